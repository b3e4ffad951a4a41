"""Hostile text in every text field of a data directory, put there the way an attacker would: through
the real import pipeline for every field import accepts (region names, indicator names, English
names, descriptions, sources and domains, target departments and tasks, observation sources), and,
for the unit, which import now refuses, written into the stored table with the store's own commit
as data that predates that check. Used by tests/test_browser_hostile.py and tests/test_hostile_pages.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from conftest import CITY, JIA, JIA1, JIA2, YI, YI1, fixture_tables
from minsheng import store
from minsheng.ingest import pipeline

OUTSIDE = "198.51.100.7"  # TEST-NET-2: never a real host
IFRAME = '<iframe srcdoc="<script>parent.alert(1)</script>">'
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
MD_IMAGE = f"![x](http://{OUTSIDE}/x.png)"
MD_LINK = f"[点我](http://{OUTSIDE}/)"
A_TAG = f'<a href="http://{OUTSIDE}">a</a>'
COLOR = ":red[x]"
LATEX = "$\\alert$"
FORMULA = f'=HYPERLINK("http://{OUTSIDE}","x")'
# the name the map title and a metric label must show exactly as written
LITERAL = f"{MD_IMAGE} **粗** :red[红] $x^2$ <b>b</b> {MD_LINK}"
UPLOAD = f"{IMG} {COLOR} {LATEX} **粗** <b>b<b> [点我](x).csv"  # a file name has no / (and the browser sends no ")
PAYLOADS = [IFRAME, IMG, SCRIPT, MD_IMAGE, MD_LINK, A_TAG, COLOR, LATEX, FORMULA]


def _one(i: int, label: str) -> str:
    """A short distinct text with one payload (it fits a name's 60 characters)."""
    return f"{label}{PAYLOADS[i % len(PAYLOADS)]}"


def _mix(i: int, label: str) -> str:
    """A distinct text with two payloads in it (for a sentence: a task, a source, an English name)."""
    return f"{label}{PAYLOADS[i % len(PAYLOADS)]} {PAYLOADS[(i + 4) % len(PAYLOADS)]}"


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8")


def _import(directory: Path, kind: str, df: pd.DataFrame, file: str) -> None:
    plan = pipeline.prepare(_csv(df), file, directory, kind=kind)
    assert not plan.errors, [p.message for p in plan.errors]
    pipeline.commit(plan, directory, accept_warnings=True, user=IMG)


def hostile_data(directory: Path) -> dict:
    """The fixture data with payloads in every text field; returns what was put where. Import takes
    each field within its length (a name 60 characters, a department or domain 40); LITERAL, longer
    than a name may now be, and the units go in afterwards as old data would be there."""
    tables = fixture_tables()
    store.write_tables(directory, tables, {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    regions = tables["regions"][["code", "name", "level", "parent_code", "lon", "lat"]].copy()
    names = {CITY: _one(0, "市"), JIA: _one(8, "甲"), YI: _one(2, "乙"), JIA1: _one(3, "镇一"), JIA2: _one(5, "镇二"),
             YI1: _one(7, "镇三")}
    regions["name"] = regions["code"].map(names)
    _import(directory, "regions", regions, "regions.csv")
    ind = tables["indicators"].copy()
    ind["name_zh"] = [_one(k, "指标") for k in range(len(ind))]
    ind["name_en"] = [_mix(k + 1, "en") for k in range(len(ind))]
    ind["description"] = [_mix(k + 2, "说明") for k in range(len(ind))]
    ind["source"] = [_mix(k + 3, "来源") for k in range(len(ind))]
    ind["domain"] = [COLOR + " " + IMG, MD_IMAGE, COLOR + " " + IMG, A_TAG, LATEX]
    ind["cumulative"] = ind["cumulative"].map({True: "是", False: "否"})
    ind["higher_is_better"] = ind["higher_is_better"].map({True: "是", False: "否"})
    _import(directory, "indicators", ind.drop(columns=["seq"]), "indicators.csv")
    obs = tables["observations"][["indicator_id", "region_code", "period", "value", "numerator", "denominator",
                                  "status"]].copy()
    yearly = obs["indicator_id"].map(dict(zip(tables["indicators"]["id"], tables["indicators"]["frequency"]))) == "year"
    obs["period"] = [p.strftime("%Y" if y else "%Y-%m") for p, y in zip(pd.to_datetime(obs["period"]), yearly)]
    obs["source"] = [_mix(k, "报") for k in range(len(obs))]
    _import(directory, "observations", obs, "observations.csv")
    targets = tables["targets"].copy()
    targets["department"] = [_one(1, "部门"), _one(6, "局")]
    targets["task"] = [_mix(3, "任务"), LITERAL]
    targets["deadline"] = targets["deadline"].astype(str)
    _import(directory, "targets", targets, "targets.csv")
    # data that predates the import checks: written with the store's own commit, as old data would be
    folder = store.resolve(directory)
    current, regions = (pd.read_parquet(store.table_path(folder, n)) for n in ("indicators", "regions"))
    units = {"cnt": SCRIPT, "stock": MD_IMAGE + " " + COLOR, "rate": IFRAME, "std": A_TAG + " " + LATEX,
             "amt": IMG + " " + FORMULA}
    current["unit"] = current["id"].map(units)
    current.loc[current["id"] == "rate", "name_zh"] = LITERAL
    regions.loc[regions["code"] == JIA, "name"] = names[JIA] = LITERAL
    store.commit(directory, {"indicators": current, "regions": regions}, action="import", file_name=LITERAL, user=IMG)
    return dict(regions=names, units=units)
