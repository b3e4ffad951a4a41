"""A return's template lists indicators by name (issue 13, item 6): the drop-down offers
“城市低保对象（mz_dibao_urban_persons）”, the importer reads the code back, and a name that does not
belong to its code is refused with its row and column. The catalogue template keeps bare codes."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from conftest import ROOT
from minsheng.ingest import pipeline, template

IND = pd.read_parquet(ROOT / "data" / "indicators.parquet")
REG = pd.read_parquet(ROOT / "data" / "regions.parquet")
NAMES = dict(zip(IND["id"], IND["name_zh"]))
U, SHIFENG_TOWN = "mz_dibao_urban_persons", "430204902000"


@pytest.fixture
def store(tmp_path) -> Path:
    return Path(shutil.copytree(ROOT / "data", tmp_path / "data", ignore=shutil.ignore_patterns(".versions")))


def offered(kind: str) -> list[str]:
    wb = openpyxl.load_workbook(io.BytesIO(template.template_bytes(kind, IND, REG)))
    codes = wb["代码表"]
    return [c.value for c in codes["A"][1:] if c.value]


def filled(kind: str, rows: list[list]) -> bytes:
    """The template of `kind` with `rows` typed under its header, as a clerk fills it."""
    wb = openpyxl.load_workbook(io.BytesIO(template.template_bytes(kind, IND, REG)))
    ws = wb["数据"]
    for r, row in enumerate(rows, 2):
        for c, v in enumerate(row, 1):
            ws.cell(r, c, v)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_the_returns_drop_down_lists_names_and_the_catalogue_keeps_codes():
    want = [f"{n}（{i}）" for i, n in zip(IND["id"], IND["name_zh"])]
    assert offered("observations") == want and offered("targets") == want
    assert offered("indicators") == list(IND["id"])


def test_an_indicator_picked_by_name_imports_as_its_code(store):
    name = f"{NAMES[U]}（{U}）"
    by_name = pipeline.prepare(filled("observations", [[name, SHIFENG_TOWN, "响石岭街道", "2026-10", 123]]),
                               "by_name.xlsx", store)
    by_code = pipeline.prepare(filled("observations", [[U, SHIFENG_TOWN, "响石岭街道", "2026-10", 123]]),
                               "by_code.xlsx", store)
    assert [p for p in by_name.problems if p.level == "错误"] == []
    assert by_name.rows["indicator_id"].tolist() == [U]
    cols = ["indicator_id", "region_code", "period", "value"]
    pd.testing.assert_frame_equal(by_name.rows[cols].reset_index(drop=True), by_code.rows[cols].reset_index(drop=True))


def test_a_target_picked_by_name_imports_as_its_code(store):
    ind = "mz_home_aging_mod"
    plan = pipeline.prepare(filled("targets", [[f"{NAMES[ind]}（{ind}）", "430204000000", 2027, 150, "区民政局"]]),
                            "targets.xlsx", store)
    assert [p for p in plan.problems if p.level == "错误"] == []
    assert plan.rows["indicator_id"].tolist() == [ind]


def test_a_name_that_is_not_its_codes_is_refused_with_row_and_column(store):
    other = next(n for i, n in NAMES.items() if i != U)
    plan = pipeline.prepare(filled("observations", [[f"{other}（{U}）", SHIFENG_TOWN, "响石岭街道", "2026-10", 123]]),
                            "mixed.xlsx", store)
    bad = [p for p in plan.problems if "名称与编码不符" in p.message]
    assert len(bad) == 1 and bad[0].row == 2 and bad[0].column == "指标编码", plan.problems
    assert NAMES[U] in bad[0].message and U in bad[0].message


def test_a_name_that_starts_like_a_formula_is_picked_through_its_apostrophe(store, tmp_path):
    """A catalogue name beginning with = is written to the drop-down as '=…（code） (never a formula);
    picked, it still imports as its code."""
    ind = IND.copy()
    ind.loc[ind["id"] == U, "name_zh"] = "=城市低保对象"
    wb = openpyxl.load_workbook(io.BytesIO(template.template_bytes("observations", ind, REG)))
    offer = next(c.value for c in wb["代码表"]["A"] if c.value and c.value.endswith(f"（{U}）"))
    assert offer == f"'=城市低保对象（{U}）"
    ind.to_parquet(store / "indicators.parquet")
    plan = pipeline.prepare(filled("observations", [[offer, SHIFENG_TOWN, "响石岭街道", "2026-10", 123]]), "f.xlsx", store)
    assert [p for p in plan.problems if p.level == "错误"] == [] and plan.rows["indicator_id"].tolist() == [U]
