"""专报: the brief for 屈原管理区 in July 2023 says what the seed report says, for the recipient's area only,
from a template a bureau can edit; task notes are written by the task's region and appear in it.

The expected figures are the seed's own words (test_demo_seeds.TASKS_2023_07, each checked there to be in
the seed) and hand arithmetic on the targets read with pandas; the document is read back with python-docx.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import docx
import pandas as pd
import pytest

from conftest import ROOT
from minsheng import auth, brief, cycle, notes, store
from test_demo_seeds import QUYUAN, TASKS_2023_07, seed_text

ADMIN = cycle.Actor("测试管理员", auth.Role.admin, None)
ZHUZHOU, SHIFENG = "430200000000", "430204000000"
ELAPSED = 7 / 12  # July: 7 of the year's 12 months have passed
ARTIFACTS = ROOT / "artifacts" / "brief"


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)]


def paragraphs(d: docx.Document) -> list[str]:
    return [p.text for p in d.paragraphs]


def section(d: docx.Document, heading: str, next_heading: str) -> list[str]:
    texts = paragraphs(d)
    return texts[texts.index(heading) + 1:texts.index(next_heading)]


@pytest.fixture(scope="module")
def quyuan(demo_dir):
    """The July 2023 brief of 屈原管理区 on the bundled demo, with its chart: (bytes, Brief)."""
    name, data, b = brief.build(demo_dir, ADMIN, QUYUAN, 2023, 7, source="test", issue=5, today=dt.date(2023, 7, 21))
    return name, data, b


@pytest.fixture(scope="module")
def doc(quyuan, tmp_path_factory):
    path = tmp_path_factory.mktemp("brief") / quyuan[0]
    path.write_bytes(quyuan[1])
    return docx.Document(str(path))


@pytest.fixture()
def copy(demo_dir, tmp_path):
    d = tmp_path / "data"
    shutil.copytree(demo_dir, d, ignore=shutil.ignore_patterns(".versions", "drafts"))
    return d


def seed_departments() -> str:
    text = seed_text("001")
    return text[text.index("【部门动态】"):text.index("【经验推介】")]


def test_each_task_sentence_carries_the_seeds_figures(doc):
    said = section(doc, "【部门动态】", "【任务推进明细】")
    seed = seed_departments()
    for task, (actual, rate, words) in TASKS_2023_07.items():
        assert words in seed
        pieces = [s for p in said for s in re.split("[；。]", p) if task in s]
        assert len(pieces) == 1, task
        found = numbers(pieces[0].replace(task, ""))  # a number in the task's name (5G) is not a figure
        assert rate in found, (task, pieces[0])
        if actual is not None:
            assert actual in found, (task, pieces[0])
        # ahead of or behind 序时进度, as 7/12 of the year says for the printed rate
        if rate >= 100:
            assert "已完成全年任务" in pieces[0], task
        elif rate / 100 < ELAPSED:
            assert "落后序时进度" in pieces[0], task
            gap = next(float(x) for x in re.findall(r"落后序时进度(\d+(?:\.\d+)?)个百分点", pieces[0]))
            assert abs(gap - 100 * (ELAPSED - rate / 100)) <= 0.1, task
        else:
            assert "超序时进度" in pieces[0], task


def test_departments_are_named_as_the_seed_names_them_in_its_order(doc, quyuan):
    said = section(doc, "【部门动态】", "【任务推进明细】")
    seed = seed_departments()
    starts = [p[:p.index(next(t for t in TASKS_2023_07 if t in p)) if any(t in p for t in TASKS_2023_07) else 0]
              for p in said if p.startswith("区")]
    starts = [s for s in starts if s]
    assert starts == sorted(starts, key=seed.index)  # the seed's order of departments
    for s in starts:
        assert s in seed, s


def test_the_pace_still_needed_is_the_rest_over_the_months_left(doc, demo_dir):
    t = pd.read_parquet(demo_dir / "targets.parquet")
    target = t[(t["region_code"] == QUYUAN) & (t["task"] == "开展就业技能培训")]["target"].item()
    pieces = [s for p in section(doc, "【部门动态】", "【任务推进明细】") for s in p.split("；") if "开展就业技能培训" in s]
    assert f"后5个月每月需完成{math.ceil((target - 453) / 5)}人" in pieces[0]


def test_the_table_holds_every_task_and_shades_the_lagging_ones(doc, demo_dir):
    t = pd.read_parquet(demo_dir / "targets.parquet")
    t = t[(t["region_code"] == QUYUAN) & (t["year"] == 2023)]
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == list(brief.TABLE_HEAD)
    rows = {r.cells[2].text: r for r in table.rows[1:]}
    assert set(rows) == set(t["task"])
    lagging = {task for task, (_, rate, _) in TASKS_2023_07.items() if rate / 100 < ELAPSED}
    assert lagging == {"开展就业技能培训", "残疾儿童康复救助"}
    for task, row in rows.items():
        fills = {el.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}fill")
                 for el in row._tr.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}shd")}
        assert (fills == {brief.LAGGING_FILL["滞后"]}) == (task in lagging), (task, fills)
        assert (row.cells[7].text == "滞后") == (task in lagging), task


def test_head_notes_chart_and_closing(doc, quyuan):
    texts = paragraphs(doc)
    assert texts[0] == "屈原管理区重点民生实事工作专报" and texts[1] == "第5期"
    assert texts[2].startswith("屈原管理区重点民生实事办公室") and texts[2].endswith("2023年7月21日")
    said = section(doc, "【部门动态】", "【任务推进明细】")
    from minsheng.catalog_demo import QUYUAN_NOTES_2023_07

    for _, text, owner in QUYUAN_NOTES_2023_07:
        assert f"{text}（责任人：{owner}）" in said
    medical = said.index(next(p for p in said if "实施医疗救助" in p))
    assert said[medical + 1].startswith(QUYUAN_NOTES_2023_07[0][1])  # under its department's paragraph
    assert len(doc.inline_shapes) == 1  # the chart
    closing = [p for p in texts if p.startswith("（数据截至")]
    assert closing and "2023年7月31日" in closing[0]
    assert "本期所用为演示数据，非官方统计。" in texts and "演示数据" in quyuan[0]
    style = doc.styles["Normal"].element.rPr.rFonts
    assert style.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "仿宋_GB2312"


def test_the_rendered_page_is_kept(quyuan):
    if shutil.which("soffice") is None or shutil.which("pdftoppm") is None:
        pytest.skip("LibreOffice and poppler-utils render the brief (make test installs them)")
    pdf = brief.to_pdf(quyuan[1])
    assert pdf.startswith(b"%PDF")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "屈原管理区-2023-07.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(ARTIFACTS / "屈原管理区-2023-07.pdf"),
                    str(ARTIFACTS / "page")], check=True, timeout=120)
    text = subprocess.run(["pdftotext", "-layout", str(ARTIFACTS / "屈原管理区-2023-07.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "部门动态" in text and "453" in text and "74.8%" in text
    assert (ARTIFACTS / "page-1.png").stat().st_size > 10_000


def test_a_county_account_gets_its_county_only(demo_dir):
    actor = cycle.Actor("石峰区分析", auth.Role.analyst, SHIFENG)
    _, data, b = brief.build(demo_dir, actor, ZHUZHOU, 2026, 10, source="test", with_chart=False)
    assert b.region_code == SHIFENG and b.narrowed_from == ZHUZHOU
    t = pd.read_parquet(demo_dir / "targets.parquet")
    own = t[(t["region_code"] == SHIFENG) & (t["year"] == 2026)]
    assert sorted(b.goals["target"]) == sorted(own["target"])
    regions = pd.read_parquet(demo_dir / "regions.parquet")
    others = regions[(regions["parent_code"] == ZHUZHOU) & (regions["code"] != SHIFENG)]["name"]
    d = docx.Document(__import__("io").BytesIO(data))
    text = "\n".join(paragraphs(d) + [c.text for r in d.tables[0].rows for c in r.cells])
    assert "石峰区" in text and "株洲市" not in text
    assert not [n for n in others if n in text]
    city = t[(t["region_code"] == ZHUZHOU) & (t["year"] == 2026)]
    shown = {c.text for r in d.tables[0].rows[1:] for c in r.cells[3:4]}
    assert not {f"{v:g}" for v in city["target"]} & {s.rstrip("人户座张个次亩万元") for s in shown}  # no city target
    with pytest.raises(brief.BriefError, match="不在您的管辖范围"):
        brief.build(demo_dir, actor, QUYUAN, 2023, 7, source="test", with_chart=False)


def test_roles_and_audit(demo_dir):
    viewer = cycle.Actor("浏览者", auth.Role.viewer, None)
    with pytest.raises(brief.BriefError, match="不能导出专报"):
        brief.build(demo_dir, viewer, QUYUAN, 2023, 7, source="test", with_chart=False)
    brief.build(demo_dir, ADMIN, QUYUAN, 2023, 7, source="test", with_chart=False)
    last = json.loads(Path(os.environ["MINSHENG_AUDIT"]).read_text(encoding="utf-8").splitlines()[-1])
    assert last["action"] == "brief" and last["user"] == ADMIN.name
    assert last["detail"]["region"] == QUYUAN and last["detail"]["period"] == "2023-07"


def test_a_bureaus_template_changes_the_sentences(copy):
    (copy / "settings").mkdir()
    (copy / "settings" / "brief.toml").write_text(
        '[layout]\ntitle = "{地区}民生实事进展（{年}年{月}月）"\n'
        '[sentences]\ntask = "{任务}已完成{完成}，为目标的{完成率}"\nbehind = "（滞后）"\nahead = ""\n', encoding="utf-8")
    b = brief.content(copy, QUYUAN, 2023, 7, area=None)
    assert b.title == "屈原管理区民生实事进展（2023年7月）"
    people = next(s for s in b.sections if s.department == "人社局").text
    assert people.startswith("区人社局开展就业技能培训已完成453人，为目标的53%（滞后）；新增城镇就业已完成1123人")
    assert b.issue == 7  # no start month set: July is the 7th


@pytest.mark.parametrize("text, said", [
    ('[sentences]\ndepartment = "{部门}{完成率}"\n', ["settings/brief.toml", "[sentences] department", "{完成率}"]),
    ('[sentences]\ntsak = "x"\n', ["[sentences] tsak", "不是专报模板的设置项"]),
    ('[layout]\ntitle = "未闭合\n', ["settings/brief.toml", "格式错误"]),
    ('[layout]\nstart_month = 13\n', ["start_month", "1–12"]),
    ('[layout]\nstart_month = "三"\n', ["start_month", "类型"]),
    ('layout = 3\n', ["layout", "一节"]),
    ('[sentences]\ntask = "{任务.__class__}"\n', ["{任务.__class__}", "不能用在这里"]),
])
def test_a_bad_template_is_refused_naming_file_and_key(copy, text, said):
    (copy / "settings").mkdir()
    (copy / "settings" / "brief.toml").write_text(text, encoding="utf-8")
    with pytest.raises(brief.BriefError) as e:
        brief.content(copy, QUYUAN, 2023, 7, area=None)
    for s in said:
        assert s in str(e.value), (s, str(e.value))


def test_data_values_are_text_never_template_or_markup(copy):
    t = pd.read_parquet(copy / "targets.parquet")
    hostile = "{地区}**粗**<b>x</b>\x07"
    t.loc[(t["region_code"] == QUYUAN) & (t["task"] == "新建5G基站"), "task"] = hostile
    store.commit(copy, {"targets": t}, action="import", kind="targets")
    _, data, b = brief.build(copy, ADMIN, QUYUAN, 2023, 7, source="test", with_chart=False)
    d = docx.Document(__import__("io").BytesIO(data))
    text = "\n".join(paragraphs(d))
    assert "{地区}**粗**<b>x</b>" in text and "\x07" not in text


def test_notes_are_written_by_the_tasks_region_and_replace_within_a_month(copy):
    task = notes.Task("rs_skill_training", QUYUAN, 2023, 7)
    reporter = cycle.Actor("屈原管理区人社局填报", auth.Role.reporter, QUYUAN)
    before = len(store.history(copy))
    notes.save(copy, reporter, task, progress="开展电工、\n育婴员培训\t两期", owner="区人社局职业能力建设股负责人", source="test")
    notes.save(copy, reporter, task, progress="开展电工、育婴员、家政培训三期", source="test")
    assert len(store.history(copy)) == before + 2
    all_rows = notes.table(copy)
    mine = all_rows[all_rows["indicator_id"] == "rs_skill_training"]
    assert list(mine["progress"]) == ["开展电工、 育婴员培训 两期", "开展电工、育婴员、家政培训三期"]
    month = notes.of_month(copy, QUYUAN, 2023, 7)
    assert month.set_index("indicator_id").loc["rs_skill_training", "progress"] == "开展电工、育婴员、家政培训三期"
    b = brief.content(copy, QUYUAN, 2023, 7, area=QUYUAN)
    assert "开展电工、育婴员、家政培训三期" in next(s for s in b.sections if s.department == "人社局").notes
    assert notes.of_month(copy, QUYUAN, 2023, 8).empty  # a month without a note has none
    log = [json.loads(x) for x in Path(os.environ["MINSHENG_AUDIT"]).read_text(encoding="utf-8").splitlines()]
    assert [r["detail"]["indicator"] for r in log if r["action"] == "note"][-2:] == ["rs_skill_training"] * 2


@pytest.mark.parametrize("actor, task, progress, said", [
    (cycle.Actor("浏览", auth.Role.viewer, QUYUAN), ("rs_skill_training", 7), "x", "不能填写任务进展"),
    (cycle.Actor("分析", auth.Role.analyst, QUYUAN), ("rs_skill_training", 7), "x", "不能填写任务进展"),
    (cycle.Actor("石峰区填报", auth.Role.reporter, SHIFENG), ("rs_skill_training", 7), "x", "不在您的管辖范围"),
    (cycle.Actor("无区域", auth.Role.reporter, ""), ("rs_skill_training", 7), "x", "没有有效的管辖范围.*不能填写任务进展"),
    (ADMIN, ("no_such_task", 7), "x", "没有指标 no_such_task 的目标任务"),
    (ADMIN, ("rs_skill_training", 7), " \n ", "不能为空"),
    (ADMIN, ("rs_skill_training", 7), "长" * 501, "最多 500 个字符"),
    (ADMIN, ("rs_skill_training", 13), "x", "1–12"),
])
def test_notes_refused(copy, actor, task, progress, said):
    before = store.current(copy)
    with pytest.raises(notes.NoteError, match=said):
        notes.save(copy, actor, notes.Task(task[0], QUYUAN, 2023, task[1]), progress=progress, source="test")
    assert store.current(copy) == before


def test_a_note_for_a_month_not_begun_is_refused(copy, monkeypatch):
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2023, 6, 20, 10, tzinfo=cycle.CHINA))
    with pytest.raises(notes.NoteError, match="尚未开始"):
        notes.save(copy, ADMIN, notes.Task("rs_skill_training", QUYUAN, 2023, 7), progress="x", source="test")


def test_the_command_line_writes_the_brief(copy, tmp_path):
    out = tmp_path / "专报.docx"
    env = {**os.environ, "MINSHENG_DATA": str(copy)}
    r = subprocess.run([sys.executable, "-m", "minsheng", "brief", "--region", "430671", "--month", "2023-07",
                        "--out", str(out), "--issue", "5", "--no-chart"], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "第5期" in r.stdout and paragraphs(docx.Document(str(out)))[1] == "第5期"
    r = subprocess.run([sys.executable, "-m", "minsheng", "brief", "--region", "430671", "--month", "2023-7x",
                        "--out", str(out)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "应写成 2023-07" in r.stderr
    r = subprocess.run([sys.executable, "-m", "minsheng", "note", "--region", "430671", "--indicator", "gx_5g_stations",
                        "--month", "2023-07", "--progress", "新建基站29座，剩余1座正在选址"], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "minsheng", "notes", "--region", "430671", "--month", "2023-07"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert "剩余1座正在选址" in r.stdout
