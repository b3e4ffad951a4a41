"""Import templates: exact headers with notes, drop-downs from the hidden 代码表, a 说明 sheet, importable."""

import io
import re

import openpyxl
import pytest
from openpyxl.utils import column_index_from_string

from conftest import fixture_tables
from minsheng import fmt, repo, vocab
from minsheng.ingest import template

TABLES = fixture_tables()
HEADERS = {
    "observations": ["指标编码", "区划代码", "区划名称", "时期", "数值", "分子", "分母", "状态", "来源"],
    "targets": ["指标编码", "区划代码", "年度", "目标值", "部门", "任务", "截止日期"],
    "regions": ["区划代码", "名称", "级别", "上级代码", "经度", "纬度", "启用日期", "停用日期", "承继区划代码"],
    "indicators": ["指标编码", "指标名称", "英文名称", "单位", "领域", "类型", "频度", "累计", "报送级别", "越大越好", "说明", "来源", "小数位数"],
    "forms": ["报表编码", "报表名称", "填报级别", "报送频度", "报送时限", "启用日期", "停用日期", "主管部门", "指标编码",
              "下发单位"],
}
IDS, CODES = list(TABLES["indicators"]["id"]), list(TABLES["regions"]["code"])
# a return picks an indicator by its name, the code after it; the catalogue is keyed by bare codes
PICKS = [f"{n}（{i}）" for i, n in zip(TABLES["indicators"]["id"], TABLES["indicators"]["name_zh"])]
# header → the values its drop-down must offer, per kind
LISTS = {
    "observations": {"指标编码": PICKS, "区划代码": CODES, "状态": ["正式", "初步"]},
    "targets": {"指标编码": PICKS, "区划代码": CODES},
    "regions": {"区划代码": CODES, "级别": ["市", "县", "乡镇", "村"], "上级代码": CODES, "承继区划代码": CODES},
    "indicators": {"指标编码": IDS, "类型": ["计数", "金额", "比率", "标准"], "频度": ["年度", "季度", "月度"],
                   "累计": ["是", "否"], "报送级别": ["市", "县", "乡镇", "村"], "越大越好": ["是", "否"],
                   "领域": list(fmt.DOMAINS)},
    "forms": {"指标编码": PICKS, "填报级别": ["市", "县", "乡镇", "村"], "报送频度": ["年度", "季度", "月度"]},
}


def open_template(kind, tables=TABLES):
    return openpyxl.load_workbook(io.BytesIO(template.template_bytes(kind, tables["indicators"], tables["regions"])))


def column_of(dv):
    return next(iter(dv.sqref.ranges)).coord.split(":")[0].rstrip("0123456789")


def list_validations(ws):
    """header → (sheet, first row, last row, values) for every list validation on the data sheet."""
    header = {c.column_letter: c.value for c in ws[1]}
    out = {}
    for dv in ws.data_validations.dataValidation:
        if dv.type != "list":
            continue
        m = re.fullmatch(r"'?([^'!]+)'?!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)", dv.formula1)
        assert m, dv.formula1  # a range on a sheet, never an inline list (Excel caps those at 255 chars)
        for rng in dv.sqref.ranges:
            assert rng.min_row == 2 and rng.max_row > 5000 and rng.min_col == rng.max_col
            out[header[rng.coord[0]]] = (m[1], m[2], int(m[3]), int(m[5]))
    return out


@pytest.mark.parametrize("kind", vocab.FILES.codes)
def test_template_sheets_headers_and_notes(kind):
    wb = open_template(kind)
    assert wb.sheetnames == ["数据", "说明", "代码表"]
    assert wb.active.title == "数据" and wb["代码表"].sheet_state == "hidden"
    ws = wb["数据"]
    assert [c.value for c in ws[1]] == HEADERS[kind]
    assert ws.max_row == 1  # no example rows to import by mistake
    assert ws.freeze_panes == "A2"
    for c in ws[1]:
        assert c.comment is not None and re.match(r"^(必填|选填)。.{6,}", c.comment.text), c.value
        assert ws.column_dimensions[c.column_letter].width >= 6


@pytest.mark.parametrize("kind", vocab.FILES.codes)
def test_template_dropdowns_read_the_hidden_code_sheet(kind):
    wb = open_template(kind)
    found = list_validations(wb["数据"])
    assert set(found) == set(LISTS[kind])
    codes = wb["代码表"]
    for header, want in LISTS[kind].items():
        sheet, col, first, last = found[header]
        assert sheet == "代码表" and first == 2 and last - first + 1 == len(want)
        values = [codes.cell(r, column_index_from_string(col)).value for r in range(first, last + 1)]
        assert values == want
        names = [codes.cell(r, column_index_from_string(col) + 1).value for r in range(first, last + 1)]
        if want is IDS:
            assert names == list(TABLES["indicators"]["name_zh"])
        if want is PICKS:
            assert names == list(TABLES["indicators"]["name_zh"])


def test_typed_codes_stay_text_and_numbers_are_checked():
    ws = open_template("observations")["数据"]
    assert ws.column_dimensions["B"].number_format == "@" and ws.column_dimensions["D"].number_format == "@"
    kinds = {ws[column_of(dv) + "1"].value: dv.type for dv in ws.data_validations.dataValidation}
    assert kinds["数值"] == kinds["分子"] == "decimal"
    ws = open_template("regions")["数据"]
    lon = next(dv for dv in ws.data_validations.dataValidation if column_of(dv) == "E")
    assert (lon.formula1, lon.formula2) == ("73", "136")


@pytest.mark.parametrize("kind", vocab.FILES.codes)
def test_help_sheet_explains_and_shows_an_example(kind):
    ws = open_template(kind)["说明"]
    rows = [[v for v in r if v is not None] for r in ws.iter_rows(values_only=True)]
    text = "\n".join(str(v) for r in rows for v in r)
    assert "UTF-8" in text and "GBK" in text and "代码表" in text
    assert ("宽表" in text) == (kind == "observations")
    i = rows.index(["示例（一行）"])
    assert rows[i + 1] == HEADERS[kind]
    assert len(ws[i + 3]) >= len(HEADERS[kind]) and rows[i + 2]  # the example row itself
    for h in HEADERS[kind]:  # every column has its requirement spelled out
        assert any(r[:1] == [h] and len(r) == 3 for r in rows), h


def test_example_uses_the_deployment_catalogue():
    ex = template._example("observations", TABLES["indicators"], TABLES["regions"])
    assert ex[0] == "cnt" and ex[1] in CODES and ex[3].count("-") == 1  # a monthly count, a period like 2026-10


def test_demo_catalogue_is_too_long_for_an_inline_list(demo_dir):
    ind, reg = repo.indicators(demo_dir), repo.regions(demo_dir)
    assert len(",".join(reg["code"])) > 255
    wb = openpyxl.load_workbook(io.BytesIO(template.template_bytes("observations", ind, reg)))
    _, _, first, last = list_validations(wb["数据"])["区划代码"]
    assert last - first + 1 == len(reg)


def test_the_importer_reads_the_template_headers():
    from minsheng.ingest import contract, readers  # the importer's own header rules

    for kind in vocab.FILES.codes:
        data = template.template_bytes(kind, TABLES["indicators"], TABLES["regions"])
        sheets = readers.read(data, f"{kind}.xlsx")
        assert [s.name for s in sheets] == ["数据"]  # 说明 and the hidden 代码表 are skipped
        assert contract.guess_kind(sheets[0].header) == kind
        assert len(contract.map_headers(sheets[0].header, kind)) == len(HEADERS[kind]), kind


def test_write_template(tmp_path):
    out = tmp_path / "指标数据导入模板.xlsx"
    template.write_template("targets", out, TABLES["indicators"], TABLES["regions"])
    assert [c.value for c in openpyxl.load_workbook(out)["数据"][1]] == HEADERS["targets"]
    assert list(tmp_path.iterdir()) == [out]
    with pytest.raises(ValueError, match="未知模板类型"):
        template.write_template("boundaries", out, TABLES["indicators"], TABLES["regions"])


def test_empty_catalogue_still_gives_a_template():
    empty = {k: v.iloc[0:0] for k, v in TABLES.items()}
    wb = open_template("observations", empty)
    assert set(list_validations(wb["数据"])) == {"状态"}  # no zero-length ranges for missing lists
