"""A city's division list in the shape the NBS publishes 统计用区划代码 (built here, never downloaded).

One prefecture-level city: 9 county-level units with their official codes, 112 township-level units
(街道, 镇, 乡, and the 4xx-numbered 管理处 / 农场 / 开发区 that official lists carry), and about 1,400
villages and communities, 88 of which share a name with another village — the shape that broke the
region picker. Township and village names are made up; the counts and the code layout are the real
list's. Deterministic: the same call gives the same rows.
"""

from __future__ import annotations

import random

CITY = ("430200000000", "株洲市")
COUNTIES = [("430202", "荷塘区"), ("430203", "芦淞区"), ("430204", "石峰区"), ("430211", "天元区"),
            ("430212", "渌口区"), ("430223", "攸县"), ("430224", "茶陵县"), ("430225", "炎陵县"),
            ("430281", "醴陵市")]
TOWNS_PER_COUNTY = [10, 11, 12, 13, 12, 14, 14, 12, 14]              # 112 in all
TOWN_KINDS = ["街道", "镇", "镇", "乡", "街道", "镇"]
SPECIAL = {3: "管理处", 5: "农场", 7: "示范园管理处"}                 # the 4xx-numbered units, by county index
SYLLABLES = "东南西北中新金银石桥塘山岭湾坪源江湖溪洲田冲铺港峰岗垅坳".replace(" ", "")
REPEATED = ["红旗村", "新华社区", "和平村", "胜利村", "建设社区", "团结村", "光明村", "东风村"]
N_VILLAGES = 1400
N_SHARED = 88                                                           # villages whose name another village has


def _name(rng: random.Random, taken: set[str], suffix: str) -> str:
    while True:
        n = "".join(rng.sample(SYLLABLES, 3 if suffix in ("村", "社区") else 2)) + suffix
        if n not in taken:
            taken.add(n)
            return n


def division_list(seed: int = 2023) -> list[dict]:
    """Rows of (统计用区划代码, 名称, 城乡分类代码) — city, counties, townships, villages in code order."""
    rng = random.Random(seed)
    rows = [dict(code=CITY[0], name=CITY[1], urban_rural="")]
    towns: list[str] = []
    taken: set[str] = set()
    for ci, ((code6, county), n) in enumerate(zip(COUNTIES, TOWNS_PER_COUNTY)):
        rows.append(dict(code=code6 + "000000", name=county, urban_rural=""))
        for t in range(n):
            special = SPECIAL.get(ci) if t == n - 1 else None
            number = 400 + ci if special else t + 1
            code = f"{code6}{number:03d}000"
            rows.append(dict(code=code, name=_name(rng, taken, special or TOWN_KINDS[t % len(TOWN_KINDS)]),
                             urban_rural=""))
            towns.append(code)
    per_town = [N_VILLAGES // len(towns) + (1 if i < N_VILLAGES % len(towns) else 0) for i in range(len(towns))]
    # 88 villages in 8 groups of 11, spread over townships of different counties
    shared = {i * (N_VILLAGES // N_SHARED): REPEATED[i % len(REPEATED)] for i in range(N_SHARED)}
    k = 0
    for town, n in zip(towns, per_town):
        for v in range(n):
            community = v < 2 and town[9 - 3:9] < "400"
            name = shared.get(k) or _name(rng, taken, "社区" if community else "村")
            rows.append(dict(code=town[:9] + f"{(1 if community else 200) + v:03d}", name=name,
                             urban_rural="111" if community else "220"))
            k += 1
    return sorted(rows, key=lambda r: r["code"])


def csv_text(rows: list[dict]) -> str:
    """The list as the CSV a clerk saves from the published table: code, name, 城乡分类代码."""
    lines = ["统计用区划代码,名称,城乡分类代码"]
    lines += [f"{r['code']},{r['name']},{r['urban_rural']}" for r in rows]
    return "\n".join(lines) + "\n"
