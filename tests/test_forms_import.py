"""报表 defined through the importer (issue 16, item 1): a forms file is read, checked and committed like the
indicator catalogue — from its template too — and each form it names is replaced whole; every bad cell is
named with file, row and column; only an admin of the whole tree imports it.

What each form should be after an import is written out here by hand."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import sys

import openpyxl
import pandas as pd

from conftest import ROOT, WITHOUT_RETURNS
from minsheng import changes, forms, store
from minsheng.ingest import contract, pipeline, readers, template

HEAD = "报表编码,报表名称,填报级别,报送频度,报送时限,启用日期,主管部门,指标编码\n"


def csv(*lines: str) -> bytes:
    return (HEAD + "\n".join(lines) + "\n").encode("utf-8-sig")


def copy(tmp_path):
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d, ignore=WITHOUT_RETURNS)
    return d


def test_a_forms_file_replaces_each_form_it_names_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    d = copy(tmp_path)
    assert forms.load(d)["mz_month"].indicators == ("mz_dibao_urban_persons", "mz_dibao_rural_persons",
                                                    "mz_tekun_persons", "mz_low_income_monitored")
    plan = pipeline.prepare(csv("mz_month,民政月报,乡镇,月度,次月6日,2026-07-01,民政,mz_tekun_persons",
                                "mz_month,民政月报,乡镇,月度,次月6日,2026-07-01,民政,mz_dibao_urban_persons",
                                "yb_town,医保乡镇月报,乡镇,月度,8,,医保,医保代办服务次数（yb_proxy_services）"),
                            "报表.csv", d)
    assert plan.kind == "forms" and not plan.problems, [str(p) for p in plan.problems]
    # two rows of mz_month changed (its deadline), two of its indicators dropped, one new form's row
    assert plan.counts == {"新增": 1, "修改": 4, "未变": 0}
    assert sorted(plan.changes.loc[plan.changes["修改内容"] == "从报表中移除此指标", "indicator_id"]) == \
        ["mz_dibao_rural_persons", "mz_low_income_monitored"]
    changes.commit(plan, directory=d, actor="管理员", source="test")
    got = forms.load(d)
    assert got["mz_month"].indicators == ("mz_tekun_persons", "mz_dibao_urban_persons")   # the file's order
    assert got["mz_month"].deadline_day == 6 and got["mz_month"].deadline_text == "次月6日"
    assert got["yb_town"].level == "township" and got["yb_town"].indicators == ("yb_proxy_services",)
    assert got["yb_month"].indicators == ("yb_medical_aid", "yb_remote_settle_rate")     # not named: kept
    assert store.history(d)[0]["kind"] == "forms"


def test_every_bad_cell_is_named_and_nothing_changes(tmp_path):
    d = copy(tmp_path)
    before = store.version(d)
    plan = pipeline.prepare(csv("Bad-ID,民政月报,乡镇,月度,次月5日,,民政,mz_dibao_urban_persons",
                                "mz_x,民政月报,乡镇,月度,下月初,,民政,mz_tekun_persons",
                                "mz_y,民政月报,乡镇,月度,次月5日,,民政,mz_nope",
                                "mz_z,民政月报,乡镇,月度,次月5日,,民政,mz_dibao_std_urban",
                                "mz_w,民政月报,小组,月度,次月5日,,民政,mz_tekun_persons",
                                "mz_v,民政月报,乡镇,月度,次月5日,,民政,mz_nursing_beds_new",
                                "mz_u,民政月报,乡镇,月度,次年1月20日,,民政,mz_tekun_persons"), "坏报表.csv", d)
    where = {(p.row, p.column): p.message for p in plan.errors}
    assert "只能用小写字母" in where[(2, "报表编码")]
    assert "看不懂" in where[(3, "报送时限")]
    assert "mz_nope" in where[(4, "指标编码")]
    assert where[(5, "指标编码")] == "指标“城市低保标准”是年度指标，不能放进月度报表"
    assert (6, "填报级别") in where
    assert where[(7, "指标编码")] == "指标“新增护理型床位”按县（市、区）报送，不能放进由乡镇（街道）填报的报表"   # no one could send it
    assert where[(8, "报送时限")].startswith("报送时限“次年1月20日”是年度报表的写法，本报表是月度报表")
    assert all(p.file == "坏报表.csv" for p in plan.errors) and store.version(d) == before


def test_the_issuing_region_is_read_by_name_or_code_and_must_sit_above_the_form(tmp_path, monkeypatch):
    """下发单位: 株洲市 by name or 430200000000 by code; a township cannot issue a township form, an unknown name
    is named; the demo's own 民政月报 is 株洲市's, so 屈原管理区's townships owe nothing."""
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    d = copy(tmp_path)
    regions = pd.read_parquet(d / "regions.parquet")
    towns = regions[regions["level"] == "township"]
    zhuzhou = {c for c in towns["code"] if c.startswith("4302")}     # 株洲市's codes: 4302…
    owed = forms.expected(d, forms.load(d)["mz_month"], [dt.date(2026, 10, 1)])
    assert set(owed["region_code"]) == zhuzhou and len(zhuzhou) < len(towns)
    head = "报表编码,报表名称,填报级别,报送频度,报送时限,主管部门,下发单位,指标编码\n"
    rows = ["mz_a,民政月报,乡镇,月度,次月5日,民政,株洲市,mz_tekun_persons",
            "mz_b,民政月报,乡镇,月度,次月5日,民政,430671000000,mz_tekun_persons",
            "mz_c,民政月报,乡镇,月度,次月5日,民政,清水塘街道,mz_tekun_persons",
            "mz_d,民政月报,乡镇,月度,次月5日,民政,株州市,mz_tekun_persons",
            "mz_e,民政月报,乡镇,月度,次月5日,民政,,mz_tekun_persons"]
    plan = pipeline.prepare((head + "\n".join(rows) + "\n").encode("utf-8-sig"), "下发.csv", d)
    where = {(p.row, p.column): p.message for p in plan.errors}
    assert set(where) == {(4, "下发单位"), (5, "下发单位")}
    assert where[(4, "下发单位")] == ("下发单位“清水塘街道”是乡镇（街道），须高于填报级别（乡镇（街道））："
                                     "它下面的乡镇（街道）填报这张报表")
    assert where[(5, "下发单位")].startswith("下发单位：找不到名为“株州市”的区划") and "株洲市" in where[(5, "下发单位")]
    plan = pipeline.prepare((head + "\n".join(rows[:2] + rows[4:]) + "\n").encode("utf-8-sig"), "下发.csv", d)
    assert not plan.errors, [str(p) for p in plan.errors]
    changes.commit(plan, directory=d, actor="管理员", source="test")
    got = forms.load(d)
    assert (got["mz_a"].issued_by, got["mz_b"].issued_by, got["mz_e"].issued_by) == ("430200000000", "430671000000", None)
    quyuan = {c for c in towns["code"] if c.startswith("430671")}
    assert set(forms.expected(d, got["mz_b"], [dt.date(2026, 10, 1)])["region_code"]) == quyuan


def test_the_rows_of_one_form_must_agree(tmp_path):
    d = copy(tmp_path)
    plan = pipeline.prepare(csv("mz_q,民政月报,乡镇,月度,次月5日,,民政,mz_dibao_urban_persons",
                                "mz_q,民政月报,乡镇,月度,次月5日,,医保,mz_tekun_persons",
                                "mz_q,民政月报,乡镇,月度,次月5日,,民政,mz_tekun_persons"), "f.csv", d)
    found = [(p.row, p.column, p.message) for p in plan.errors]
    assert (3, "主管部门", "报表 mz_q 的“主管部门”与第 2 行不一致：同一报表的各行须写法相同") in found
    assert any(r == 4 and "重复" in m for r, _, m in found)


def test_the_filled_template_imports_and_is_recognised(tmp_path, monkeypatch):
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    d = copy(tmp_path)
    ind, reg = pipeline.table(d, "indicators"), pipeline.table(d, "regions")
    wb = openpyxl.load_workbook(io.BytesIO(template.template_bytes("forms", ind, reg)))
    ws = wb["数据"]
    picks = {i: f"{n}（{i}）" for i, n in zip(ind["id"], ind["name_zh"])}  # what its drop-down offers
    for r in (["cl_month", "残联月报", "县", "月度", "次月10日", "2026-01-01", None, "残联", picks["cl_child_rehab"],
               "株洲市"],
              ["cl_month", "残联月报", "县", "月度", "次月10日", "2026-01-01", None, "残联",
               picks["cl_barrier_free_mod"], "株洲市"]):
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    [sheet] = [s for s in readers.read(buf.getvalue(), "报表.xlsx") if s.name == "数据"]
    assert contract.guess_kind(sheet.header) == "forms"
    plan = pipeline.prepare(buf.getvalue(), "报表.xlsx", d)                  # no kind named: found by its headers
    assert plan.kind == "forms" and not plan.problems, [str(p) for p in plan.problems]
    changes.commit(plan, directory=d, actor="管理员", source="test")
    f = forms.load(d)["cl_month"]
    assert (f.level, f.frequency, f.deadline_day, f.indicators, f.issued_by) == (
        "county", "month", 10, ("cl_child_rehab", "cl_barrier_free_mod"), "430200000000")


def test_a_county_admin_cannot_import_forms(tmp_path):
    d = copy(tmp_path)
    plan = pipeline.prepare(csv("mz_q,民政月报,乡镇,月度,次月5日,,民政,mz_dibao_urban_persons"), "f.csv", d,
                            area="430204000000")
    assert [p.message for p in plan.errors] == ["报表目录由全市共用，只有全市管理员可以导入；您的管辖范围是石峰区，不能导入报表文件"]


def test_the_command_line_imports_forms(tmp_path):
    d = copy(tmp_path)
    f = tmp_path / "报表.csv"
    f.write_bytes(csv("mz_q,季度报表,县,月度,次月5日,,民政,mz_nursing_beds_new"))
    env = {"MINSHENG_DATA": str(d), "MINSHENG_AUDIT": str(tmp_path / "audit.log"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "minsheng", "import", str(f), "--kind", "forms"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert forms.load(d)["mz_q"].indicators == ("mz_nursing_beds_new",)
