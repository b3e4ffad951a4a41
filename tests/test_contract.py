"""The import contract holds the template, the validator and the preview to one column spec.

`contract.KINDS` says, per kind of file, which columns there are, which are required (and what may
stand in for them), which are keys and which count as a change. These tests read the fill-in
template as a clerk gets it, feed files to the validator and rows to the preview, and check each
against the contract, so none of the three can drift from it (or from each other) unnoticed.
"""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import column_index_from_string

from conftest import ROOT, fixture_tables
from minsheng import fields, repo
from minsheng.ingest import contract, pipeline, readers, template, validate
from minsheng.ingest.readers import Sheet
from test_template import list_validations

DEMO = ROOT / "data"  # read only: the catalogue the template's example rows are written for
INDICATORS, REGIONS = repo.indicators(DEMO), repo.regions(DEMO)
CATALOG = pipeline.catalog(DEMO)
KINDS = list(contract.KINDS)
FORMS = pd.DataFrame([dict(form_id="t_month", form_name="测试月报", report_level="township", frequency="month",
                           deadline_day=5, valid_from=None, valid_to=None, department="民政", issued_by=None,
                           indicator_id=i, position=n) for n, i in enumerate(["cnt", "stock"])])
# a demo region of each level, for rows that must agree with the code's structure
CODE_AT = {"city": "430200000000", "county": "430204000000", "township": "430204901000", "village": "430204901001"}


def workbook(kind: str) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(template.template_bytes(kind, INDICATORS, REGIONS)))


def template_header(kind: str) -> list[str]:
    """The header row of the template, as the importer reads it."""
    [sheet] = readers.read(template.template_bytes(kind, INDICATORS, REGIONS), f"{kind}.xlsx")
    return sheet.header


def example(kind: str) -> dict[str, str | None]:
    """The template's example row (its 说明 sheet), as cell texts by column name, plus a value for
    every column the template does not show (what a clerk may still send)."""
    row = dict(zip((c.name for c in contract.KINDS[kind].shown), template._example(kind, INDICATORS, REGIONS)))
    row = {c: readers.cell_text(v) for c, v in row.items()}
    if kind == "targets":
        row["region_name"] = CATALOG.by_code[row["region_code"]].name
    return row


def check(kind: str, row: dict, drop=(), **kw) -> validate.Parsed:
    """The validator on a one-row file with the columns of `row`, less `drop`, under their template headers."""
    cols = [c for c in contract.KINDS[kind].columns if c.name in row and c.name not in drop]
    sheet = Sheet(f"{kind}.csv", None, [c.header for c in cols], [[row[c.name] for c in cols]])
    return validate.parse_sheet(sheet, kind, CATALOG, factor=0, **kw)


def refusals(parsed: validate.Parsed) -> list[str]:
    """The messages that refuse the file as a whole (the header row: missing columns)."""
    return [p.message for p in parsed.problems if p.level == "错误" and p.row == 1]


def errors(parsed: validate.Parsed) -> list[str]:
    return [f"{p.column}: {p.message}" for p in parsed.problems if p.level == "错误"]


# --- the template's headers are the contract's, and the importer reads them back --------------------

@pytest.mark.parametrize("kind", KINDS)
def test_every_template_header_reads_back_as_its_column(kind):
    shown = contract.KINDS[kind].shown
    header = template_header(kind)
    assert header == [c.header for c in shown]
    assert contract.map_headers(header, kind) == {c.name: i for i, c in enumerate(shown)}
    assert contract.guess_kind(header) == kind


@pytest.mark.parametrize("kind", KINDS)
def test_every_header_a_clerk_may_write_means_one_column(kind):
    for col in contract.KINDS[kind].columns:
        for h in (col.name, *col.headers):
            assert contract.map_headers([h], kind) == {col.name: 0}, (kind, h)


# --- required columns: refused without them, marked 必填 in the template, and enough on their own ------

@pytest.mark.parametrize("kind", KINDS)
def test_the_example_row_imports_cleanly(kind):
    parsed = check(kind, example(kind))
    assert errors(parsed) == [] and len(parsed.rows) == 1


COLUMNS = [(k, c.name) for k, spec in contract.KINDS.items() for c in spec.columns]


@pytest.mark.parametrize("kind, name", [(k, c) for k, c in COLUMNS if contract.KINDS[k][c].required])
def test_a_file_without_a_required_column_is_refused_naming_it(kind, name):
    col, row = contract.KINDS[kind][name], example(kind)
    refused = refusals(check(kind, row, drop=(name, *col.instead)))
    assert any(f"“{col.header}”" in m for m in refused), refused
    if col.instead:  # its stand-ins, all there, do instead
        assert refusals(check(kind, row, drop=(name,))) == []
    if col.chosen:  # an indicator chosen for the whole file does instead
        assert errors(check(kind, row, drop=(name,), indicator=row[name])) == []


@pytest.mark.parametrize("kind, name", [(k, c) for k, c in COLUMNS if not contract.KINDS[k][c].required])
def test_a_file_without_an_optional_column_imports_cleanly(kind, name):
    parsed = check(kind, example(kind), drop=(name,))
    assert errors(parsed) == [] and len(parsed.rows) == 1


def test_a_wide_table_needs_neither_period_nor_value_column():
    row = {k: v for k, v in example("observations").items() if k not in contract.KINDS["observations"].wide}
    sheet = Sheet("wide.csv", None, ["区划代码", "2026-01", "2026-02"], [[row["region_code"], "5", None]])
    parsed = validate.parse_sheet(sheet, "observations", CATALOG, indicator=row["indicator_id"], factor=0)
    assert errors(parsed) == [] and parsed.rows["value"].tolist() == [5.0]


@pytest.mark.parametrize("kind", KINDS)
def test_the_template_marks_exactly_the_required_columns(kind):
    wb = workbook(kind)
    marks = {c.value: c.comment.text.split("。")[0] for c in wb["数据"][1]}
    said = {r[1]: r[2] for r in wb["说明"].iter_rows(values_only=True) if len(r) > 2 and r[1] in marks and r[2] in ("是", "否")}
    for col in contract.KINDS[kind].columns:
        if col.template:
            assert marks[col.header] == ("必填" if col.required else "选填"), col.name
            assert said[col.header] == ("是" if col.required else "否"), col.name
        else:  # a clerk may send it, but nothing can require what the template does not show
            assert not col.required, col.name


# --- the preview joins on the contract's keys and counts a change in its compared columns ------------

def _other(column: pd.Series, v):
    """Another value of the column's type."""
    if pd.api.types.is_datetime64_any_dtype(column):  # a region's validity
        return pd.Timestamp("2018-06-19") if pd.isna(v) else v + pd.Timedelta(days=1)
    if pd.api.types.is_string_dtype(column) or isinstance(v, str):
        return "x" if v is None or v != v else v + "x"
    if v is None or pd.isna(v):
        return 1
    if isinstance(v, (bool, np.bool_)):
        return not v
    return v + dt.timedelta(days=1) if isinstance(v, dt.date) else v + 1


# Re-importing an existing indicator breaks the preview: its yes/no columns are compared by
# subtraction (numpy refuses it on booleans). Strict, so the fix has to remove the mark.
@pytest.mark.parametrize("kind", KINDS)  # indicators: re-importing the catalogue once raised TypeError
def test_the_preview_keys_and_compares_by_the_contract(kind):
    tables = {**fixture_tables(), "forms": FORMS}
    spec, current = contract.KINDS[kind], fields.with_added(tables[kind], kind)  # as the table reads
    first = current.iloc[[0]].reset_index(drop=True)
    assert pipeline.preview(kind, first, current)[1] == {"新增": 0, "修改": 0, "未变": 1}
    for c in current.columns:
        changed = first.copy()
        changed.at[0, c] = _other(current[c], first.at[0, c])
        _, counts, changes = pipeline.preview(kind, changed, current)
        want = "新增" if c in spec.keys else "修改" if c in spec.compared else "未变"
        assert counts[want] == 1, (c, counts)
        if want == "修改":  # the keys, the change in words, then old and new of the field that changes
            assert list(changes.columns) == spec.keys + ["修改内容", f"{c}（原）", c]
            assert changes["修改内容"].iloc[0].startswith(f"{spec[c].header}：")
    assert set(spec.keys) | set(spec.compared) <= set(current.columns)


# --- every word the template's drop-downs offer is one the validator reads ----------------------------

def offered(kind: str, header: str) -> list[str]:
    wb = workbook(kind)
    sheet, col, first, last = list_validations(wb["数据"])[header]
    return [wb[sheet].cell(r, column_index_from_string(col)).value for r in range(first, last + 1)]


@pytest.mark.parametrize("kind", KINDS)
def test_every_word_a_drop_down_offers_is_read_by_the_validator(kind):
    cols = [c for c in contract.KINDS[kind].shown if c.choices and c.choices.terms]
    for col in cols:
        words = offered(kind, col.header)
        assert words, col.name
        for word in words:
            row = {**example(kind), col.name: word}
            code = col.choices.terms.parse(word)
            if col.name == "level":  # a region's level must fit its code, and its parent too: the one its code names
                row["code"], row["parent_code"] = CODE_AT[code], None
            if kind == "forms" and col.name in ("frequency", "report_level"):  # its indicators: of its frequency,
                same = INDICATORS[INDICATORS[col.name] == code]                   # sent at its level
                other = {"frequency": ("report_level", "township"), "report_level": ("frequency", "month")}[col.name]
                same = same[same[other[0]] == other[1]]       # and the example row's other one
                row["deadline_day"] = "5"                      # days after the period: every frequency's
                if same.empty:
                    continue
                row["indicator_id"] = same.iloc[0]["id"]
            parsed = check(kind, row)
            assert errors(parsed) == [], (col.name, word, errors(parsed))
            assert parsed.rows.at[0, col.name] == code, (col.name, word)
    assert kind in ("targets",) or cols  # only targets has no drop-down of a fixed vocabulary


def test_auth_reads_codes_with_the_importers_rule_and_without_pandas():
    code = "import sys, minsheng.auth as a; print(a.normalise_area(' 430204 '), 'pandas' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == ["430204000000", "False"], run.stderr
