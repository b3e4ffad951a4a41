"""Imports, history and rollback per role × area: a county admin changes only their county.

The fixture city (conftest.py) has two counties, 甲县 (甲一镇, 甲二镇) and 乙县 (乙一镇). Expected
rows, codes and values are written out here from the files the tests build, never taken from the
product's own output.
"""

from __future__ import annotations

import hashlib
import json
import re

import pandas as pd
import pytest
from conftest import CITY, JIA, JIA1, JIA2, YI, YI1, fixture_tables
from test_import import cli
from test_import_page import data_copy  # noqa: F401 (fixture)
from test_session import PW, sign_in, start, users  # noqa: F401 (fixture)

from minsheng import audit, auth, changes, reference, store
from minsheng.ingest import pipeline
from minsheng.ingest.problems import ERROR, ImportRejected

ACTOR = dict(actor="admin_jia", source="test")


@pytest.fixture
def d(tmp_path, monkeypatch):
    """A fresh copy of the fixture data, its own audit log."""
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    out = tmp_path / "data"
    store.write_tables(out, fixture_tables(), {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    return out


def fingerprint(directory) -> dict:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def stored(directory, indicator: str, region: str, period: str) -> list[float]:
    o = reference.layered(store.resolve(directory), "observations")  # base and delta, applied in pandas
    o = o[(o["indicator_id"] == indicator) & (o["region_code"] == region) & (o["period"].astype(str) == period)]
    return o["value"].tolist()


# cnt for 2023-03 is stored as 甲一镇 6, 乙一镇 30; a year before 3 and 20 (conftest.py)
BOTH = csv("指标编码,区划代码,时期,数值",
           f"cnt,{JIA1},2023-03,7",       # row 2: 甲县's
           f"cnt,{YI1},2023-03,300")      # row 3: 乙县's — 15 times last year's 20, a warning on main


def test_a_county_admin_cannot_import_another_countys_rows(d):
    before = fingerprint(d)
    plan = pipeline.prepare(BOTH, "两县.csv", d, area=JIA)
    assert [(p.level, p.row, p.column) for p in plan.errors] == [(ERROR, 3, "区划代码")]
    message = plan.errors[0].message
    assert YI1 in message and "乙一镇" in message and "甲县" in message and "不在您的管辖范围" in message
    # nothing of 乙县 reaches the preview: no warning quoting its stored values, no row, no changes
    assert not plan.warnings
    said = [re.sub(r"\d{12}", "", p.message) for p in plan.problems]  # codes aside, no stored value is quoted
    assert all("上年" not in m and "20" not in m and "30" not in m for m in said)
    assert YI1 not in set(plan.rows.get("region_code", []))
    assert plan.changes is None or YI1 not in set(plan.changes.get("region_code", []))
    with pytest.raises(ImportRejected):
        changes.commit(plan, directory=d, **ACTOR)
    assert fingerprint(d) == before


def test_a_county_admin_commits_their_own_rows(d):
    plan = pipeline.prepare(csv("指标编码,区划代码,时期,数值", f"cnt,{JIA1},2023-03,7", f"cnt,{JIA2},2023-03,8"),
                            "甲县.csv", d, area=JIA)
    assert not plan.problems
    changes.commit(plan, directory=d, **ACTOR)
    assert stored(d, "cnt", JIA1, "2023-03-01") == [7.0] and stored(d, "cnt", JIA2, "2023-03-01") == [8.0]
    assert stored(d, "cnt", YI1, "2023-03-01") == [30.0]
    assert store.history(d)[0]["scope"] == [CITY, JIA]  # the smallest region holding both townships


def test_a_wide_table_row_of_another_county_is_one_error(d):
    wide = csv("区划代码,2023-02,2023-03", f"{JIA1},3,7", f"{YI1},20,300")
    plan = pipeline.prepare(wide, "宽表.csv", d, indicator="cnt", area=JIA)
    assert [(p.row, p.column) for p in plan.errors] == [(3, "区划代码")]


@pytest.mark.parametrize("area", [None, CITY], ids=["command-line", "city-admin"])
def test_the_operator_and_a_city_wide_admin_commit_both_counties(d, area):
    plan = pipeline.prepare(BOTH, "两县.csv", d, area=area)
    assert not plan.errors
    changes.commit(plan, directory=d, accept_warnings=True, **ACTOR)
    assert stored(d, "cnt", JIA1, "2023-03-01") == [7.0] and stored(d, "cnt", YI1, "2023-03-01") == [300.0]
    assert store.history(d)[0]["scope"] == [CITY]


@pytest.mark.parametrize("area", ["", "990199000000", "abc"])
def test_an_empty_or_unknown_area_refuses(d, area):
    plan = pipeline.prepare(csv("指标编码,区划代码,时期,数值", f"cnt,{JIA1},2023-03,7"), "甲县.csv", d, area=area)
    assert len(plan.errors) == 1 and "管辖范围" in plan.errors[0].message and plan.rows.empty


def test_targets_outside_the_area_are_errors(d):
    targets = csv("指标编码,区划代码,年度,目标值,部门", f"amt,{JIA},2024,20,甲县民政局", f"amt,{YI},2024,30,乙县民政局")
    plan = pipeline.prepare(targets, "目标.csv", d, area=JIA)
    assert [(p.row, p.column) for p in plan.errors] == [(3, "区划代码")]
    assert pipeline.prepare(targets, "目标.csv", d, area=CITY).errors == []


INDICATORS = csv("指标编码,指标名称,单位,类型,频度", "newind,新指标,人,计数,月度")


def test_only_a_city_wide_admin_imports_the_indicator_catalogue(d):
    before = fingerprint(d)
    plan = pipeline.prepare(INDICATORS, "指标.csv", d, area=JIA)
    assert len(plan.errors) == 1 and "全市" in plan.errors[0].message
    with pytest.raises(ImportRejected):
        changes.commit(plan, directory=d, **ACTOR)
    assert fingerprint(d) == before
    broken = pipeline.prepare(INDICATORS.replace("计数".encode(), b"xx"), "指标.csv", d, area=JIA)
    assert any("全市" in p.message for p in broken.errors)  # said even when no row is importable
    plan = pipeline.prepare(INDICATORS, "指标.csv", d, area=CITY)
    assert not plan.errors
    changes.commit(plan, directory=d, **ACTOR)
    assert store.history(d)[0]["scope"] == []  # the catalogue is everyone's: city-wide


NEW_VILLAGE = "990101001001"  # under 甲一镇
REGION_CASES = {
    # (file row, allowed for 甲县's admin)
    "rename a township": (f"{JIA1},甲一街道,,{JIA}", True),
    "add a village": (f"{NEW_VILLAGE},新村,村,{JIA1}", True),
    "move a township to another county": (f"{JIA1},甲一镇,,{YI}", False),
    "take another county's township": (f"{YI1},乙一镇,,{JIA}", False),
    "add a township to another county": ("990102009000,乙九镇,,990102000000", False),
    "the county's own row": (f"{JIA},甲县,,{CITY}", False),
    "the city's row": (f"{CITY},测试市,,", False),
}


@pytest.mark.parametrize("case", list(REGION_CASES))
def test_region_rows_stay_inside_the_area(d, case):
    row, allowed = REGION_CASES[case]
    file = csv("区划代码,名称,级别,上级代码", row)
    plan = pipeline.prepare(file, "区划.csv", d, area=JIA)
    if allowed:
        assert not plan.errors, [str(p) for p in plan.errors]
        changes.commit(plan, directory=d, accept_warnings=True, **ACTOR)  # a rename waits for a confirmation
        assert JIA in store.history(d)[0]["scope"]
    else:
        assert [p.row for p in plan.errors] == [2], [str(p) for p in plan.errors]
        assert "管辖范围" in plan.errors[0].message
    assert not pipeline.prepare(file, "区划.csv", d, area=CITY).errors or case == "the city's row"


def test_a_new_township_and_its_villages_in_one_file(d):
    file = csv("区划代码,名称,级别,上级代码", f"990101003000,甲三镇,乡镇,{JIA}", "990101003001,三村,村,990101003000")
    plan = pipeline.prepare(file, "区划.csv", d, area=JIA)
    assert not plan.errors, [str(p) for p in plan.errors]


def square(code: str, lon: float, lat: float) -> dict:
    ring = [[lon, lat], [lon + 0.05, lat], [lon + 0.05, lat + 0.05], [lon, lat + 0.05], [lon, lat]]
    return dict(type="Feature", properties=dict(code=code), geometry=dict(type="Polygon", coordinates=[ring]))


def test_boundaries_outside_the_area_are_errors(d):
    before = fingerprint(d)
    payload = json.dumps(dict(type="FeatureCollection", features=[square(JIA, 113.1, 27.1), square(YI, 113.2, 26.9)]))
    levels, problems = changes.check_boundaries(payload.encode(), "县界.geojson", crs="wgs84", user_area=JIA, directory=d)
    errors = [p for p in problems if p.level == ERROR]
    # 乙县 is another county's; 甲县's own outline is part of the city's map (a county admin could
    # otherwise draw their county over the whole city), like its row in the regions table
    assert len(errors) == 2 and YI in errors[1].message and "管辖范围" in errors[1].message
    assert "管辖范围本身" in errors[0].message and "甲县" in errors[0].message
    with pytest.raises(changes.OutOfArea):  # the commit refuses on its own, audited
        changes.commit_boundaries(levels, file="县界.geojson", sha256="0" * 64, size=1, user_area=JIA, directory=d,
                                  **ACTOR)
    assert fingerprint(d) == before
    assert audit.read()[-1]["detail"]["ok"] is False
    changes.commit_boundaries(levels, file="县界.geojson", sha256="0" * 64, size=1, user_area=CITY, directory=d,
                              **ACTOR)
    assert store.history(d)[0]["scope"] == [CITY]


def test_a_county_admin_draws_the_townships_inside_but_not_the_county_itself(d):
    inside = json.dumps(dict(type="FeatureCollection", features=[square(JIA1, 113.11, 27.11), square(JIA2, 113.12, 27.12)]))
    levels, problems = changes.check_boundaries(inside.encode(), "乡镇.geojson", crs="wgs84", user_area=JIA, directory=d)
    assert not [p for p in problems if p.level == ERROR] and levels
    whole = json.dumps(dict(type="FeatureCollection", features=[square(JIA, 113.1, 27.1)]))
    _, problems = changes.check_boundaries(whole.encode(), "县界.geojson", crs="wgs84", user_area=JIA, directory=d)
    assert [p.message for p in problems if p.level == ERROR] == [
        "边界 甲县 是您的管辖范围本身：它的轮廓属于上级区划图，只有全市管理员可以修改"]


def two_counties(d) -> tuple[str, str, str]:
    """An old version with no scope (written before scopes), then one import for each county."""
    old = store.commit(d, {}, meta_update={"title": "旧版本"}, user="old")
    yi = changes.commit(pipeline.prepare(csv("指标编码,区划代码,时期,数值", f"cnt,{YI1},2023-03,31"), "乙.csv", d, area=YI),
                        directory=d, **ACTOR)
    jia = changes.commit(pipeline.prepare(csv("指标编码,区划代码,时期,数值", f"cnt,{JIA1},2023-03,7"), "甲.csv", d,
                                          area=JIA), directory=d, **ACTOR)
    return old, yi, jia


def test_history_lists_only_the_versions_inside_the_area(d):
    old, yi, jia = two_counties(d)
    ids = lambda area: [r["id"] for r in changes.history(d, user_area=area)]
    assert ids(JIA) == [jia] and ids(YI) == [yi] and ids(JIA1) == [jia] and ids(JIA2) == []
    assert ids(CITY) == ids(None) == [jia, yi, old, store.BASE]
    assert ids("") == []


def test_a_rollback_that_undoes_another_area_is_refused_and_audited(d):
    old, yi, jia = two_counties(d)
    before = fingerprint(d)
    assert changes.rollback_targets(d, user_area=JIA) == [yi]  # undoing only 甲县's own import
    for target in (old, store.BASE):
        with pytest.raises(changes.OutOfArea, match="管辖范围"):
            changes.rollback(target, directory=d, user_area=JIA, **ACTOR)
        last = audit.read()[-1]
        assert (last["action"], last["detail"]["to"], last["detail"]["ok"]) == ("rollback", target, False)
    with pytest.raises(changes.OutOfArea, match="没有有效的管辖范围"):
        changes.rollback(yi, directory=d, user_area="", **ACTOR)
    assert fingerprint(d) == before and store.current(d) == jia
    back = changes.rollback(yi, directory=d, user_area=JIA, **ACTOR)
    assert stored(d, "cnt", JIA1, "2023-03-01") == [6.0] and stored(d, "cnt", YI1, "2023-03-01") == [31.0]
    assert store.history(d)[0]["id"] == back and store.history(d)[0]["scope"] == [CITY, JIA, JIA1]
    # the city-wide admin and the operator undo anything
    assert changes.rollback_targets(d, user_area=CITY) == [jia, yi, old, store.BASE]
    changes.rollback(store.BASE, directory=d, user_area=CITY, **ACTOR)
    assert stored(d, "cnt", YI1, "2023-03-01") == [30.0]


# --- the 导入 page, signed in (demo data: 石峰区 and 荷塘区 of 株洲市) --------------------------------

SHIFENG, HETANG_TOWN, SHIFENG_TOWN = "430204000000", "430202901000", "430204901000"
# stored for mz_dibao_urban_persons in 2026-10: 清水塘街道 (石峰区) 82, 月塘街道 (荷塘区) 290
PAGE_FILE = csv("指标编码,区划代码,时期,数值", f"mz_dibao_urban_persons,{SHIFENG_TOWN},2026-10,83",
                f"mz_dibao_urban_persons,{HETANG_TOWN},2026-10,291")


@pytest.fixture
def page_users(users, data_copy):  # noqa: F811
    auth.add_user("admin_shifeng", "admin", SHIFENG, PW)
    return data_copy


def import_page(name: str):
    at = sign_in(start(), name)
    at.switch_page("views/import_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def preview_text(at) -> str:
    """What the page shows of the file (its text elements and every table but the history), region codes left out."""
    bits = [str(e.value) for kind in ("markdown", "caption", "error", "warning", "success", "info", "metric")
            for e in getattr(at, kind)]
    bits += [df.value.to_csv(index=False) for df in at.dataframe if "版本" not in df.value]
    return re.sub(r"\d{12}", "", "\n".join(bits))


def test_the_import_page_refuses_another_countys_rows_and_shows_none_of_its_values(page_users):
    before = fingerprint(page_users)
    at = import_page("admin_shifeng")
    at.file_uploader(key="imp_file").set_value(("两区.csv", PAGE_FILE, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("1 个错误" in e.value for e in at.error)
    problems = at.dataframe[0].value
    assert problems[["行", "列"]].values.tolist() == [[3, "区划代码"]]
    assert "月塘街道" in problems.iloc[0]["问题"] and "石峰区" in problems.iloc[0]["问题"]
    assert not [b for b in at.button if b.key == "imp_commit"]
    shown = preview_text(at)
    assert "290" not in shown and "291" not in shown  # neither 月塘街道's stored value nor the file's
    assert fingerprint(page_users) == before


def test_the_import_page_lists_and_rolls_back_only_the_areas_versions(page_users):
    city = import_page("admin01")  # a city-wide admin imports for 荷塘区
    city.file_uploader(key="imp_file").set_value(("荷塘区.csv", csv("指标编码,区划代码,时期,数值",
                                                  f"mz_dibao_urban_persons,{HETANG_TOWN},2026-10,291"), "text/csv")).run()
    city.button(key="imp_commit").click().run()
    hetang = store.current(page_users)
    at = import_page("admin_shifeng")
    history = at.dataframe[-1].value
    assert hetang not in set(history["版本"]) and store.BASE not in set(history["版本"])
    assert not [s for s in at.selectbox if s.key == "imp_rollback_to"]  # nothing 石峰区 may undo
    at.file_uploader(key="imp_file").set_value(("石峰区.csv", csv("指标编码,区划代码,时期,数值",
                                                f"mz_dibao_urban_persons,{SHIFENG_TOWN},2026-10,83"), "text/csv")).run()
    at.button(key="imp_commit").click().run()
    shifeng = store.current(page_users)
    at = import_page("admin_shifeng")
    assert list(at.dataframe[-1].value["版本"]) == [shifeng]
    assert at.selectbox(key="imp_rollback_to").options == [hetang]


def test_the_command_line_keeps_the_whole_city_and_takes_an_area(d, tmp_path):
    file = tmp_path / "两县.csv"
    file.write_bytes(BOTH)
    before = fingerprint(d)
    run = cli(file, "--yes", "--area", JIA[:6], data=d)  # a 6-digit code, as operators write it
    assert run.returncode == 2 and "第 3 行" in run.stderr and "不在您的管辖范围（甲县）" in run.stderr, run.stderr
    assert fingerprint(d) == before
    run = cli(file, "--yes", data=d)
    assert run.returncode == 0, run.stderr
    assert stored(d, "cnt", YI1, "2023-03-01") == [300.0]


def test_a_township_moved_out_of_the_area_before_the_commit_is_refused(d):
    """The rows are checked again when another commit landed between the preview and the click."""
    plan = pipeline.prepare(csv("指标编码,区划代码,时期,数值", f"cnt,{JIA1},2023-03,7"), "甲县.csv", d, area=JIA)
    assert not plan.problems
    moved = pipeline.prepare(csv("区划代码,名称,级别,上级代码", f"{JIA1},甲一镇,,{YI}"), "区划.csv", d)
    changes.commit(moved, directory=d, actor="city", source="test", accept_warnings=True)  # the move, confirmed
    before = fingerprint(d)
    with pytest.raises(store.StoreConflict, match="管辖范围"):
        changes.commit(plan, directory=d, **ACTOR)
    assert fingerprint(d) == before and audit.read()[-1]["detail"]["ok"] is False


def test_a_name_not_found_in_the_area_suggests_only_names_inside_it(d):
    """The message for 乙一镇 (another county's township) named it back as a suggestion, and with it
    the regions of other counties."""
    plan = pipeline.prepare(csv("指标编码,区划名称,时期,数值", "cnt,乙一镇,2023-03,7"), "甲.csv", d, area=JIA)
    [message] = [p.message for p in plan.errors]
    assert message.startswith("找不到名为“乙一镇”的区划（在 甲县 范围内）")
    assert "乙一镇" not in message.partition("是否为")[2] and "甲一镇" in message.partition("是否为")[2]
