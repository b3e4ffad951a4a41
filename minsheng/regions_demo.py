"""The demo hierarchy: 株洲市, its nine county-level units and their townships; and 岳阳市 with
屈原管理区 alone, whose 2023 task report is the second seed (it is not part of 株洲市).

County codes are the official 统计用区划代码. Township names are real names of townships in
that county, but their codes are demo codes (the ninth digit is 9) and not the official ones:
we did not have an authoritative list to copy them from, and a plausible-looking fake code is
worse than a plainly artificial one. 屈原管理区's four 乡镇(街道) are the four its report counts
("我区4个乡镇(街道)"); it names 营田镇 and 河市镇, and public descriptions of the district (1 街道,
2 镇, 1 乡 in 2023) give 天问街道 and 凤凰乡.
"""

CITY = ("430200000000", "株洲市")

COUNTIES = [
    ("430202", "荷塘区", ["月塘街道", "宋家桥街道", "茨菇塘街道", "金山街道", "桂花街道", "仙庾镇"]),
    ("430203", "芦淞区", ["建设街道", "建宁街道", "贺家土街道", "庆云街道", "龙泉街道", "枫溪街道", "白关镇"]),
    ("430204", "石峰区", ["清水塘街道", "响石岭街道", "井墈街道", "田心街道", "铜塘湾街道", "学林街道", "龙头铺街道", "云田镇"]),
    ("430211", "天元区", ["嵩山路街道", "泰山路街道", "栗雨街道", "马家河街道", "群丰镇", "雷打石镇", "三门镇"]),
    ("430212", "渌口区", ["渌口镇", "淦田镇", "古岳峰镇", "龙门镇", "龙船镇", "朱亭镇"]),
    ("430223", "攸县", ["联星街道", "江桥街道", "皇图岭镇", "网岭镇", "酒埠江镇", "宁家坪镇", "桃水镇"]),
    ("430224", "茶陵县", ["思聪街道", "洣江街道", "云阳街道", "腰潞镇", "严塘镇", "虎踞镇", "火田镇"]),
    ("430225", "炎陵县", ["霞阳镇", "沔渡镇", "十都镇", "水口镇", "鹿原镇", "策源乡"]),
    ("430281", "醴陵市", ["来龙门街道", "阳三石街道", "国瓷街道", "嘉树镇", "孙家湾镇", "白兔潭镇", "浦口镇", "王仙镇", "东富镇"]),
]


# 岳阳市 holds only 屈原管理区 in the demo: it is there for the second seed report.
SECOND_CITY = ("430600000000", "岳阳市")
QUYUAN = ("430671", "屈原管理区", ["天问街道", "营田镇", "河市镇", "凤凰乡"])


def county_code(code6: str) -> str:
    return code6 + "000000"


def township_code(code6: str, i: int) -> str:
    """Demo township code: county code + 9xx + 000 (official township numbers never start with 9)."""
    return f"{code6}{900 + i + 1:03d}000"


def hierarchy() -> list[dict]:
    """Every demo region as a row of the regions table (without coordinates)."""
    rows = []
    for city, counties in ((CITY, COUNTIES), (SECOND_CITY, [QUYUAN])):
        rows.append({"code": city[0], "name": city[1], "level": "city", "parent_code": None})
        for code6, name, towns in counties:
            rows.append({"code": county_code(code6), "name": name, "level": "county", "parent_code": city[0]})
            for i, town in enumerate(towns):
                rows.append({"code": township_code(code6, i), "name": town, "level": "township",
                             "parent_code": county_code(code6)})
    return rows
