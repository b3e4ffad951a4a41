"""Starting empty: `init`, imports into a blank directory in order, the first-run page, a map without boundaries.

A bureau has nothing but the official division list and its own returns: no demo, no boundaries, no
coordinates. Everything here is built by the tests; expected numbers are computed from the files with pandas.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, app
from minsheng import repo, store, vocab
from minsheng.ui import pages

CITY, JIA, YI, BING = "990100000000", "990101000000", "990102000000", "990103000000"
TOWNS = {"990101001000": ("甲一街道", JIA), "990101002000": ("甲二镇", JIA), "990102001000": ("乙一乡", YI),
         "990103001000": ("丙一镇", BING), "990103200000": ("丙农场", BING)}
# an official list: code and name only — no level, no parent, no coordinates
REGIONS_CSV = "统计用区划代码,名称\n" + "\n".join(
    [f"{CITY},测试市", f"{JIA},甲区", f"{YI},乙县", f"{BING},丙县"] + [f"{c},{n}" for c, (n, _) in TOWNS.items()]) + "\n"
INDICATORS_CSV = ("指标编码,指标名称,单位,类型,频度,报送级别\n"
                  "t_persons,低保对象,人,计数,年度,乡镇\n")
VALUES = {"990101001000": (120, 131), "990101002000": (75, 70), "990102001000": (310, 322),
          "990103001000": (44, 58), "990103200000": (9, 11)}
OBS_CSV = "指标编码,区划代码,时期,数值\n" + "".join(
    f"t_persons,{c},{y},{v[i]}\n" for c, v in VALUES.items() for i, y in enumerate((2023, 2024)))
FIRST_RUN = "区划代码表"  # every page of a fresh store names the first file to load


def cli(tmp_path, *args, data=None):
    env = dict(os.environ, MINSHENG_USERS=str(tmp_path / "users.json"), MINSHENG_AUDIT=str(tmp_path / "audit.log"))
    env.pop("MINSHENG_DATA", None)
    if data is not None:
        env["MINSHENG_DATA"] = str(data)
    return subprocess.run([sys.executable, "-m", "minsheng", *map(str, args)], text=True, capture_output=True,
                          cwd=ROOT, env=env, timeout=180)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8-sig")
    return path


def fingerprint(directory):
    if not directory.exists():
        return None
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != "lock"}


def shown_text(at) -> str:
    parts = [e.value for kind in ("markdown", "info", "caption", "warning", "title", "subheader") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    d = tmp_path / "bureau"
    r = cli(tmp_path, "init", d)
    assert r.returncode == 0, r.stderr
    monkeypatch.setenv("MINSHENG_DATA", str(d))
    return d


def test_init_makes_an_empty_whole_store(tmp_path, fresh):
    assert store.exists(fresh) and store.current(fresh) == store.BASE
    assert store.verify(fresh, record=False)[0]["state"] == "whole"  # a manifest of checksums, like every version
    assert [r["action"] for r in map(json.loads, (tmp_path / "audit.log").read_text().splitlines())][-1] == "init"
    for name, cols in {"regions": {"code": "string", "name": "string", "parent_code": "string", "lon": "double"},
                       "observations": {"region_code": "string", "period": "date32[day]", "value": "double"},
                       "targets": {"year": "int64", "target": "double", "deadline": "date32[day]"},
                       "indicators": {"cumulative": "bool", "seq": "int64"}}.items():
        schema = pq.read_schema(fresh / f"{name}.parquet")
        assert pq.read_metadata(fresh / f"{name}.parquet").num_rows == 0
        got = {f.name: str(f.type).replace("large_", "") for f in schema}
        assert {k: got.get(k) for k in cols} == cols
    assert repo.regions(fresh).empty and repo.periods(fresh).empty
    again = cli(tmp_path, "init", fresh)  # never over a store
    assert again.returncode == 2 and "已有数据" in again.stderr and "Traceback" not in again.stderr
    demo = cli(tmp_path, "init", ROOT / "data")
    assert demo.returncode == 2 and "Traceback" not in demo.stderr


@pytest.mark.parametrize("page", [p.key for p in pages.PAGES])
def test_every_page_opens_on_a_fresh_store_with_the_first_run_content(fresh, page):
    at = app(page)
    assert not at.error, [e.value for e in at.error]
    text = shown_text(at)
    assert FIRST_RUN in text and "Traceback" not in text and str(fresh) not in text


def test_first_run_page_offers_the_templates_in_order_and_follows_the_imports(tmp_path, fresh):
    at = app()
    keys = [b.proto.id for b in at.get("download_button")]
    assert len(keys) >= 4
    text = shown_text(at)
    order = [text.index(w) for w in ("区划代码表", "指标目录", "指标数据", "目标任务", "GeoJSON")]
    assert order == sorted(order)
    assert "导入" in text
    # the templates it offers open as workbooks with their instructions sheet
    from minsheng.ingest import template
    for kind in ("regions", "indicators", "observations", "targets"):
        wb = openpyxl.load_workbook(io.BytesIO(template.template_bytes(kind, repo.indicators(fresh), repo.regions(fresh))))
        assert "说明" in wb.sheetnames
    assert cli(tmp_path, "import", write(tmp_path, "区划.csv", REGIONS_CSV), data=fresh).returncode == 0
    after = shown_text(app())
    assert "已导入 9 个" in after and "已导入 9 个" not in text      # step 1 done, the page says so
    assert FIRST_RUN in after                                          # still first-run: no indicators yet


def test_a_missing_directory_shows_the_first_run_page(tmp_path, monkeypatch):
    monkeypatch.setenv("MINSHENG_DATA", str(tmp_path / "nothing" / "here"))
    for page in (None, "map", "import"):
        at = app(page)
        assert not at.error and FIRST_RUN in shown_text(at)
    assert not (tmp_path / "nothing").exists()  # reading writes nothing


def test_regions_indicators_values_into_a_missing_directory_read_back_exactly(tmp_path, monkeypatch):
    data = tmp_path / "new" / "data"
    for name, text in (("区划.csv", REGIONS_CSV), ("指标.csv", INDICATORS_CSV), ("数据.csv", OBS_CSV)):
        r = cli(tmp_path, "import", write(tmp_path, name, text), data=data)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
    assert [h["kind"] for h in store.history(data)[:3]] == ["observations", "indicators", "regions"]
    obs = pd.read_csv(io.StringIO(OBS_CSV), dtype={"区划代码": str})
    obs["县"] = obs["区划代码"].map(lambda c: TOWNS[c][1])
    for year in (2023, 2024):
        day = dt.date(year, 1, 1)
        rows = obs[obs["时期"] == year]
        got = repo.series(["t_persons"], [CITY, JIA, YI, BING, *TOWNS], day, day, data).set_index("region_code")["value"]
        expect = {CITY: rows["数值"].sum(), **rows.groupby("县")["数值"].sum().to_dict(),
                  **dict(zip(rows["区划代码"], rows["数值"]))}
        assert {c: float(got[c]) for c in expect} == {c: float(v) for c, v in expect.items()}
    parents = repo.regions(data).set_index("code")["parent_code"]
    assert parents["990103200000"] == BING and parents[BING] == CITY  # inferred from the codes
    # with regions, indicators and values the pages show data (no targets, no boundaries, no coordinates)
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    for page in pages.PAGES:
        at = app(page.key, year="2024")
        assert not at.error, (page.key, [e.value for e in at.error])
        assert FIRST_RUN not in shown_text(at), page.key
    city = obs.loc[obs["时期"] == 2024, "数值"].sum()
    assert {m.label: m.value for m in app(year="2024").metric}["低保对象"] == f"{int(city):,} 人"


@pytest.mark.parametrize("blank", [True, False])
def test_values_before_any_regions_are_refused_and_change_nothing(tmp_path, blank):
    data = tmp_path / "bureau"
    if not blank:
        assert cli(tmp_path, "init", data).returncode == 0
    before = fingerprint(data)
    r = cli(tmp_path, "import", write(tmp_path, "数据.csv", OBS_CSV), data=data)
    assert r.returncode == 2
    assert "尚未导入区划：请先导入区划代码表（模板：" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("[错误]") == 1                   # one message, not one per row
    assert fingerprint(data) == before                    # a blank directory stays blank, a store unchanged
    geo = write(tmp_path, "county.geojson", json.dumps({"type": "FeatureCollection", "features": []}))
    r = cli(tmp_path, "import", geo, "--crs", "wgs84", data=data)
    assert r.returncode == 2 and "尚未导入区划" in r.stderr and "Traceback" not in r.stderr
    assert fingerprint(data) == before


def test_values_before_the_indicators_are_refused_with_the_next_step(tmp_path):
    data = tmp_path / "bureau"
    assert cli(tmp_path, "import", write(tmp_path, "区划.csv", REGIONS_CSV), data=data).returncode == 0
    before = fingerprint(data)
    r = cli(tmp_path, "import", write(tmp_path, "数据.csv", OBS_CSV), data=data)
    assert r.returncode == 2 and "尚未导入指标目录：请先导入指标目录（模板：" in r.stderr
    assert fingerprint(data) == before


def test_the_import_page_creates_the_store_in_a_missing_directory(tmp_path, monkeypatch):
    data = tmp_path / "new"
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    at = app("import")
    at.file_uploader(key="imp_file").set_value(("区划.csv", REGIONS_CSV.encode("utf-8-sig"), "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["新增行"] == "9"
    assert not data.exists()                               # the preview writes nothing
    at.button(key="imp_commit").click().run()
    assert any("已导入" in s.value for s in at.success), [e.value for e in at.error]
    assert store.exists(data) and len(repo.regions(data)) == 9


def test_an_admin_with_an_area_is_told_where_the_first_region_list_is_loaded(fresh):
    from minsheng.ingest import pipeline

    before = fingerprint(fresh)
    plan = pipeline.prepare(REGIONS_CSV.encode("utf-8-sig"), "区划.csv", fresh, area=CITY)
    assert [p.message for p in plan.errors] == [p.message for p in plan.problems]
    assert len(plan.errors) == 1 and "尚未导入区划" in plan.errors[0].message and "命令行" in plan.errors[0].message
    assert fingerprint(fresh) == before


def bare_store(directory) -> pd.DataFrame:
    """A store from an official list: regions without coordinates, no boundaries; a rate reported by township.
    Returns the townships' numerators and denominators."""
    regions = pd.DataFrame([dict(code=CITY, name="测试市", level="city", parent_code=None)] +
                           [dict(code=c, name=n, level="county", parent_code=CITY)
                            for c, n in ((JIA, "甲区"), (YI, "乙县"), (BING, "丙县"))] +
                           [dict(code=c, name=n, level="township", parent_code=p) for c, (n, p) in TOWNS.items()])
    regions[["lon", "lat"]] = float("nan")
    indicators = pd.DataFrame([dict(id="t_rate", name_zh="参保率", name_en="Rate", unit="%", domain="医保", kind="rate",
                                    frequency="year", cumulative=False, report_level="township", higher_is_better=True,
                                    description="", source="测试", seq=1)])
    pairs = pd.DataFrame([(c, p, n, d) for (c, (_, p)), (n, d) in zip(TOWNS.items(), [(950, 1000), (400, 500), (1880, 2000),
                                                                                     (470, 480), (30, 40)])],
                         columns=["code", "county", "num", "den"])
    obs = pd.DataFrame([dict(indicator_id="t_rate", region_code=r.code, period=dt.date(2024, 1, 1), value=100 * r.num / r.den,
                             numerator=float(r.num), denominator=float(r.den), status="final", source="乡镇报",
                             batch_id="t") for r in pairs.itertuples()])
    targets = pd.DataFrame(columns=["indicator_id", "region_code", "year", "target", "department", "task", "deadline"])
    store.write_tables(directory, dict(regions=regions, indicators=indicators, observations=obs, targets=targets),
                       {"title": "测试", "demo": False, "data_date": "2024-12-31"})
    return pairs


def test_map_without_boundaries_or_coordinates_ranks_and_names_the_file(tmp_path, monkeypatch):
    d = tmp_path / "bare"
    pairs = bare_store(d)
    monkeypatch.setenv("MINSHENG_DATA", str(d))
    at = app("map", region=CITY, year="2024", ind="t_rate")
    assert not at.get("deck_gl_json_chart") and not at.error  # no empty deck, no error
    names = {JIA: "甲区", YI: "乙县", BING: "丙县", **{c: n for c, (n, _) in TOWNS.items()}}
    by_county = pairs.groupby("county")[["num", "den"]].sum()
    for level, rates in (("county", 100 * by_county["num"] / by_county["den"]),
                         ("township", 100 * pairs.set_index("code")["num"] / pairs.set_index("code")["den"])):
        if level == "township":
            at.segmented_control(key="_w_maplevel").set_value("township").run()
            assert not at.exception and not at.get("deck_gl_json_chart")
        expect = rates.sort_values(ascending=False)
        table = at.dataframe[0].value
        assert table.iloc[:, 1].tolist() == [names[c] for c in expect.index]
        # rank, name, (所属县区 for townships spanning several counties), value, 同比
        assert table.iloc[:, -2].round(6).tolist() == expect.round(6).tolist()
        note = " ".join(i.value for i in at.info)
        assert f"{level}.geojson" in note and "properties.code" in note and "经度" in note


@pytest.mark.browser
def test_a_served_fresh_store_shows_the_first_run_page_on_every_link(tmp_path, chromium_path, browser):
    """What `MINSHENG_DATA=<init output> make run` serves: the router's streamlit process, in Chromium."""
    from browser_support import APP_SCRIPT, StreamlitServer, new_page, wait_idle

    data = tmp_path / "bureau"
    assert cli(tmp_path, "init", data).returncode == 0
    env = {"MINSHENG_DATA": str(data), "MINSHENG_USERS": str(tmp_path / "users.json"),
           "MINSHENG_AUDIT": str(tmp_path / "audit.log")}
    server = StreamlitServer(APP_SCRIPT, ROOT, "fresh", env=env).start()
    try:
        ctx, page, requests = new_page(browser)
        for path in ("/", "/map", "/trend?region=990100000000"):
            page.goto(server.url + path)
            wait_idle(page)
            body = page.locator('[data-testid="stMain"]').inner_text()
            assert "开始使用" in body and FIRST_RUN in body, (path, body[:400])
            assert "Traceback" not in body and "Error" not in body and str(data) not in body
            buttons = page.locator('[data-testid="stDownloadButton"]')
            buttons.nth(len(vocab.FILES.codes) - 1).wait_for(timeout=30_000)  # drawn after the steps' table
            assert buttons.count() == len(vocab.FILES.codes)
            assert page.url.endswith("/start")                  # every browsing page lands on the first-run page
        assert not requests.external()
        ctx.close()
    finally:
        server.stop()


def test_the_first_run_page_says_each_thing_once_and_no_empty_code(fresh):
    # found in review: the line under the title read "新数据目录 · 新数据目录 · 数据截至 未知" and the
    # footer "区域：新数据目录（）" — a region that does not exist yet, with an empty code
    at = app()
    captions = [c.value for c in at.caption]
    under_title = captions[0]
    assert under_title.count("新数据目录") == 1 and "未知" not in under_title
    assert not [c for c in captions if "（）" in c]
