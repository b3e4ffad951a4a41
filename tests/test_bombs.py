"""Small files that expand to exhaust the server (issue 11, items 3 and 13), built here, never committed.

Each file goes through the product's own entry — `pipeline.prepare` as the 导入 page calls it, the
command line `python -m minsheng import`, and the page itself — in a child process with its own
address-space limit and a timeout, so a regression fails by MemoryError or timeout instead of
eating the shared machine. Each must be refused with a Chinese message naming the file, within
seconds, with bounded memory, a clean message (no traceback, no server path) and the data
directory unchanged byte-for-byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT

PYTHON = sys.executable
AS_LIMIT = 3 * 1024 ** 3        # address space of the bounded run (Arrow alone maps 1.6 GB): far below
                                # the 6–11 GB the bombs reached on main
SECONDS = 20                    # "refused in seconds", on a shared 2-core machine
RSS_LIMIT_KB = 900 * 1024       # the importing process itself (the server's stand-in) stays small
HEADER = ["指标编码", "区划代码", "时期", "数值"]
ROW = ["mz_dibao_urban_persons", "430204901000", "2026-11", "120"]


# --- the bombs, built per test ------------------------------------------------------------------

def _xlsx(ws_fill) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append(HEADER)
    ws.append(ROW[:3] + [120])
    ws_fill(ws)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rewrite(data: bytes, member: str, edit) -> bytes:
    """The workbook with one member's XML replaced by edit(xml) (a str, or an iterator of byte chunks)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename != member:
                out.writestr(info.filename, body)
                continue
            new = edit(body.decode("utf-8"))
            with out.open(member, "w", force_zip64=True) as w:
                for chunk in ([new.encode("utf-8")] if isinstance(new, str) else new):
                    w.write(chunk)
    return buf.getvalue()


SHEET = "xl/worksheets/sheet1.xml"


def far_cell() -> bytes:
    """4.7 KB: the header, a row, and one cell at XFD1048576 (the last cell of Excel's grid)."""
    return _xlsx(lambda ws: ws.__setitem__("XFD1048576", 1))


def far_cell_lying_dimension() -> bytes:
    """The same, with a <dimension> that claims A1:D2: the reader may not trust it."""
    data = far_cell()
    return _rewrite(data, SHEET, lambda x: x.replace('<dimension ref="A1:XFD1048576"/>', '<dimension ref="A1:D2"/>'))


def far_cell_xls() -> bytes:
    """The .xls twin: a cell at IV65536, the last of the old format's grid (saved by LibreOffice)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is needed to write an .xls")
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "far.xlsx"
        src.write_bytes(_xlsx(lambda ws: ws.__setitem__("IV65536", 1)))
        subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{d}/profile",
                        "--convert-to", "xls", "--outdir", d, str(src)], check=True, capture_output=True, timeout=120)
        return (Path(d) / "far.xls").read_bytes()


def zip_bomb() -> bytes:
    """A sheet whose one number has 400 MB of leading zeros: a few hundred KB compressed."""
    zeros = 400 * 1024 * 1024

    def edit(xml: str):
        head, tail = xml.split("<v>120</v>")
        yield (head + "<v>").encode()
        block = b"0" * (8 * 1024 * 1024)
        for _ in range(zeros // len(block)):
            yield block
        yield ("120</v>" + tail).encode()
    return _rewrite(_xlsx(lambda ws: None), SHEET, edit)


def billion_laughs() -> bytes:
    """The classic: ten levels of ten entities each, a billion "lol"s from a kilobyte."""
    ents = ['<!ENTITY lol0 "lollollollollollollollollollol">'] + [
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    doctype = "<!DOCTYPE worksheet [" + "".join(ents) + "]>"
    return _rewrite(_xlsx(lambda ws: None), SHEET, lambda x: doctype + x.replace(
        "<is><t>mz_dibao_urban_persons</t></is>", "<is><t>&lol9;</t></is>"))


def xxe(secret: Path) -> bytes:
    """An external entity naming a file on the server: its text must never reach a page."""
    doctype = f'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    return _rewrite(_xlsx(lambda ws: None), SHEET, lambda x: doctype + x.replace(
        "<is><t>mz_dibao_urban_persons</t></is>", "<is><t>&xxe;</t></is>"))


def parquet_bomb() -> bytes:
    """A dictionary-encoded column: one 20 MB string, used by 300 rows (6 GB once decoded)."""
    n = 300
    big = pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int32()), pa.array(["9" * (20 * 1024 * 1024)]))
    table = pa.table({"指标编码": [ROW[0]] * n, "区划代码": [ROW[1]] * n, "时期": [ROW[2]] * n, "数值": big})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=False,
                   dictionary_pagesize_limit=64 * 1024 * 1024)
    return buf.getvalue()


def parquet_many_rows() -> bytes:
    """30 million rows of constant values: run-length encoded to a few KB."""
    n = 30_000_000
    table = pa.table({c: pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int8()).fill_null(0), pa.array([v]))
                      for c, v in zip(HEADER, ROW)})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=False, row_group_size=n)
    return buf.getvalue()


def csv_wide() -> bytes:
    """100,000 named columns (4.7 MB): 163 s of CPU on main."""
    names = [f"第{i}列说明文字" for i in range(100_000)]
    return (",".join(HEADER + names) + "\n" + ",".join(ROW + ["1"] * len(names)) + "\n").encode("utf-8")


def csv_many_columns() -> bytes:
    """100,000 short column names (0.7 MB): within the line limit, beyond the column limit."""
    names = [f"c{i}" for i in range(100_000)]
    return (",".join(HEADER + names) + "\n" + ",".join(ROW + ["1"] * len(names)) + "\n").encode("utf-8")


def csv_long_line() -> bytes:
    """A 49 MB line: one 数值 cell of 49 MB."""
    return (",".join(HEADER) + "\n" + ",".join(ROW[:3]) + "," + "1" * (49 * 1024 * 1024) + "\n").encode()


def geo_nested() -> bytes:
    depth = 200_000
    return ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"430204"},'
            '"geometry":{"type":"Polygon","coordinates":' + "[" * depth + "]" * depth + "}}]}").encode()


def geo_many_points() -> bytes:
    """3.8 million vertices in one ring (49 MB): minutes of GEOS validation and simplification."""
    ring = "[113.1,27.1]," * 3_800_000
    return ('{"type":"Feature","properties":{"code":"430204"},"geometry":{"type":"Polygon","coordinates":[['
            + ring + "[113.1,27.1]]]}}").encode()


# (file name, builder, a fragment the refusal must contain)
TABLE_BOMBS = [
    ("远端单元格.xlsx", far_cell, "在 XFD1048576 单元格"),
    ("维度不实.xlsx", far_cell_lying_dimension, "在 XFD1048576 单元格"),
    ("远端单元格.xls", far_cell_xls, "65,536 行 × 256 列"),
    ("压缩炸弹.xlsx", zip_bomb, "压缩炸弹"),
    ("实体膨胀.xlsx", billion_laughs, "DTD"),
    ("外部实体.xlsx", None, "DTD"),          # built from a secret file per test
    ("字典膨胀.parquet", parquet_bomb, "展开后"),
    ("三千万行.parquet", parquet_many_rows, "30,000,000 行"),
    ("十万列.csv", csv_wide, "表头（第 1 行）长达"),
    ("十万短列.csv", csv_many_columns, "表头有 100,004 列"),
    ("超长行.csv", csv_long_line, "第 2 行长达"),
]
GEO_BOMBS = [
    ("深层嵌套.geojson", geo_nested, "JSON 嵌套过深"),
    ("三百八十万点.geojson", geo_many_points, "坐标点过多"),
]


# --- running an entry under bounds --------------------------------------------------------------

def _bounds():
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (4 * SECONDS, 4 * SECONDS))


def bounded(args: list[str], data_dir: Path, timeout: float = SECONDS, cwd: Path = ROOT) -> dict:
    """Run a Python child with a memory limit (inherited by anything it starts) and a wall-clock
    timeout; kill its whole process group on timeout. Returns rc, output, seconds and peak RSS."""
    env = {**os.environ, "MINSHENG_DATA": str(data_dir), "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    # through a small waiter whose only child is the run: its RUSAGE_CHILDREN is that run's peak (with the
    # sandbox helpers it starts), not the largest of every process this test worker ever started (a
    # LibreOffice of another test file in the same worker peaks past 1 GB)
    p = subprocess.Popen([PYTHON, "-c", _WAITER, PYTHON, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=_bounds, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return dict(rc="timeout", out=out.decode(errors="replace"), err=err.decode(errors="replace")[-2000:],
                    seconds=time.monotonic() - start, rss_kb=None)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)   # whatever it left behind (a sandbox helper)
        except ProcessLookupError:
            pass
    err_text, found, peak = err.decode(errors="replace").rpartition("\n" + _PEAK)
    if not found:
        err_text, peak = peak, ""
    return dict(rc=p.returncode, out=out.decode(errors="replace"), err=err_text[-4000:],
                seconds=time.monotonic() - start, rss_kb=int(peak) if peak.strip().isdigit() else None)


# Runs argv[1:], passes its exit code on, and writes the run's peak RSS (KB, it and every process it waited
# for) as the last line of stderr.
_PEAK = "MINSHENG_TEST_PEAK_RSS_KB="
_WAITER = f"""
import os, resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
sys.stderr.write("\\n{_PEAK}" + str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + "\\n")
sys.stderr.flush()
if code < 0:  # killed by a signal (the memory or CPU limit): end the same way
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


PREPARE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from minsheng.ingest import pipeline
    path = Path(sys.argv[1])
    plan = pipeline.prepare(path.read_bytes(), path.name)
    print(json.dumps([[p.level, p.file, p.message] for p in plan.problems], ensure_ascii=False))
""")

BOUNDARIES = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from minsheng import repo
    from minsheng.ingest import geo
    path = Path(sys.argv[1])
    levels, problems = geo.read_boundaries(path.read_bytes(), repo.regions(), display_name=path.name)
    print(json.dumps([[p.level, p.file, p.message] for p in problems], ensure_ascii=False))
""")

PAGE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from streamlit.testing.v1 import AppTest
    path = Path(sys.argv[1])
    at = AppTest.from_file(sys.argv[2], default_timeout=60)
    at.run()
    at.switch_page("views/import_page.py").run()
    at.file_uploader(key="imp_file").set_value((path.name, path.read_bytes(), "application/octet-stream")).run()
    tables = [df.value.to_dict("records") for df in at.dataframe]
    print(json.dumps(dict(exceptions=[str(e.value) for e in at.exception], errors=[e.value for e in at.error],
                          tables=tables), ensure_ascii=False, default=str))
""")


def fingerprint(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def data_copy(tmp_path) -> Path:
    return Path(shutil.copytree(ROOT / "data", tmp_path / "data"))


def build(tmp_path: Path, name: str, builder) -> Path:
    bombs = tmp_path / "uploads"
    bombs.mkdir(exist_ok=True)
    if builder is None:   # XXE: a file only this test knows, which must never show up anywhere
        secret = tmp_path / "secret.txt"
        secret.write_text("机密标记-XXE-7f3a\n", encoding="utf-8")
        data = xxe(secret)
    else:
        data = builder()
    path = bombs / name
    path.write_bytes(data)
    return path


def assert_refused(run: dict, name: str, fragment: str, problems_text: str, tmp_path: Path):
    assert run["rc"] != "timeout", f"{name}: not refused within {SECONDS} s; stderr: {run['err'][-800:]}"
    assert run["seconds"] < SECONDS
    assert run["rss_kb"] < RSS_LIMIT_KB, f"{name}: peak RSS {run['rss_kb'] // 1024} MB"
    assert "Traceback" not in run["out"] + run["err"], f"{name}: a traceback\n{run['err'][-1500:]}"
    assert "MemoryError" not in run["out"] + run["err"]
    assert name in problems_text, f"{name}: the refusal does not name the file: {problems_text[:800]}"
    assert fragment in problems_text, f"{name}: expected “{fragment}” in {problems_text[:800]}"
    assert str(tmp_path) not in problems_text and str(ROOT) not in problems_text, "a server path is shown"
    assert "机密标记" not in run["out"] + run["err"], "an external entity was read"


@pytest.mark.parametrize("name, builder, fragment", TABLE_BOMBS, ids=[b[0] for b in TABLE_BOMBS])
def test_prepare_refuses_expanding_file(name, builder, fragment, tmp_path, data_copy):
    path = build(tmp_path, name, builder)
    assert path.stat().st_size < 50 * 1024 * 1024
    before = fingerprint(data_copy)
    run = bounded(["-c", PREPARE, str(path)], data_copy)
    problems = json.loads(run["out"].strip().splitlines()[-1]) if run["rc"] == 0 and run["out"].strip() else []
    text = "\n".join(f"{f}：{m}" for level, f, m in problems if level == "错误")
    assert_refused(run, name, fragment, text, tmp_path)
    assert fingerprint(data_copy) == before


@pytest.mark.parametrize("name, builder, fragment", TABLE_BOMBS + GEO_BOMBS,
                         ids=[b[0] for b in TABLE_BOMBS + GEO_BOMBS])
def test_command_line_refuses_expanding_file(name, builder, fragment, tmp_path, data_copy):
    path = build(tmp_path, name, builder)
    before = fingerprint(data_copy)
    run = bounded(["-m", "minsheng", "import", str(path)], data_copy)
    assert run["rc"] in (2, "timeout"), run
    assert_refused(run, name, fragment, run["err"], tmp_path)
    assert "数据未改变" in run["err"]
    assert fingerprint(data_copy) == before


@pytest.mark.parametrize("name, builder, fragment", GEO_BOMBS, ids=[b[0] for b in GEO_BOMBS])
def test_boundaries_refuse_expanding_file(name, builder, fragment, tmp_path, data_copy):
    path = build(tmp_path, name, builder)
    run = bounded(["-c", BOUNDARIES, str(path)], data_copy)
    problems = json.loads(run["out"].strip().splitlines()[-1]) if run["rc"] == 0 and run["out"].strip() else []
    text = "\n".join(f"{f}：{m}" for level, f, m in problems if level == "错误")
    assert_refused(run, name, fragment, text, tmp_path)


@pytest.mark.parametrize("name, builder, fragment", [TABLE_BOMBS[0], TABLE_BOMBS[4], GEO_BOMBS[0]],
                         ids=["远端单元格.xlsx", "实体膨胀.xlsx", "深层嵌套.geojson"])
def test_import_page_shows_the_refusal(name, builder, fragment, tmp_path, data_copy):
    path = build(tmp_path, name, builder)
    before = fingerprint(data_copy)
    run = bounded(["-c", PAGE, str(path), str(ROOT / "dashboard.py")], data_copy, timeout=90)
    assert run["rc"] == 0, run["err"][-1500:]
    shown = json.loads(run["out"].strip().splitlines()[-1])
    assert not shown["exceptions"], shown["exceptions"]
    cells = "\n".join(f"{r.get('文件')}：{r.get('问题')}" for t in shown["tables"] for r in t if r.get("级别") == "错误")
    assert any("错误" in e for e in shown["errors"]), shown["errors"]
    run = {**run, "seconds": 0}     # the page's own start-up is not the upload's time
    assert_refused(run, name, fragment, cells, tmp_path)
    assert fingerprint(data_copy) == before


# --- the sandbox itself, and a normal file through it ---------------------------------------------

def test_formatting_far_out_is_not_data(tmp_path, data_copy):
    """Excel keeps styled empty cells (a border, a fill) in the sheet and in its <dimension>: a real
    file formatted down to XFD1048576 is read, since only cells holding a value count."""
    from openpyxl.styles import PatternFill

    def fill(ws):
        ws["XFD1048576"].fill = PatternFill("solid", fgColor="FFFF00")
    path = tmp_path / "uploads" / "带格式.xlsx"
    path.parent.mkdir()
    path.write_bytes(_xlsx(fill))
    assert b'r="XFD1048576"' in zipfile.ZipFile(path).read(SHEET)
    run = bounded(["-c", PREPARE, str(path)], data_copy)
    assert run["rc"] == 0, run["err"][-1500:]
    assert json.loads(run["out"].strip().splitlines()[-1]) == []
    assert run["rss_kb"] < RSS_LIMIT_KB


def test_a_good_file_still_imports_through_the_sandbox(tmp_path, data_copy):
    path = tmp_path / "石峰区11月.csv"
    path.write_bytes((",".join(HEADER) + "\n" + ",".join(ROW) + "\n").encode("utf-8-sig"))
    before = fingerprint(data_copy)
    run = bounded(["-m", "minsheng", "import", str(path), "--yes"], data_copy)
    assert run["rc"] == 0, run["err"]
    assert "新增 1 行" in run["out"] and "已导入" in run["out"]
    assert fingerprint(data_copy) != before
    assert run["rss_kb"] < RSS_LIMIT_KB


def test_a_child_out_of_memory_is_a_chinese_refusal():
    from minsheng.ingest import limits, sandbox

    with pytest.raises(sandbox.Refused, match="文件解析超出内存/时间限制"):
        sandbox.run(bytearray, 2 * limits.SANDBOX_MEMORY)


def test_a_child_out_of_time_is_killed_and_refused(monkeypatch):
    from minsheng.ingest import limits, sandbox

    sandbox.run(len, b"")                     # the fork server is up: only the limit is timed
    monkeypatch.setattr(limits, "SANDBOX_WALL_SECONDS", 2)
    start = time.monotonic()
    with pytest.raises(sandbox.Refused, match="文件解析超出内存/时间限制"):
        sandbox.run(time.sleep, 60)
    assert time.monotonic() - start < 10


def test_a_failing_reader_shows_no_traceback():
    from minsheng.ingest import sandbox

    with pytest.raises(sandbox.Refused) as refused:
        sandbox.run(int, "不是数字")
    assert str(refused.value).startswith("无法读取该文件（ValueError）") and "Traceback" not in str(refused.value)


def test_a_slow_parse_does_not_stall_another_upload(monkeypatch, tmp_path):
    """A parse that burns CPU in its child leaves this process free: a second upload is read and
    previewed meanwhile (in the server's threads, the first would have held the GIL throughout)."""
    import threading

    from minsheng.ingest import limits, pipeline, sandbox

    sandbox.run(len, b"")
    monkeypatch.setattr(limits, "SANDBOX_WALL_SECONDS", 8)
    slow = threading.Thread(target=lambda: pytest.raises(sandbox.Refused, sandbox.run, sum, range(10 ** 12)))
    slow.start()
    time.sleep(0.5)
    start = time.monotonic()
    plan = pipeline.prepare((",".join(HEADER) + "\n" + ",".join(ROW) + "\n").encode(), "b.csv",
                            Path(shutil.copytree(ROOT / "data", tmp_path / "data")))
    took = time.monotonic() - start
    assert slow.is_alive(), "the slow parse should still be running"
    assert not plan.errors and plan.counts["新增"] == 1
    assert took < 5
    slow.join()


def test_the_sandbox_never_reruns_the_main_script(tmp_path, data_copy):
    """Streamlit runs each page as __main__, unguarded: a child that re-imported the main module
    (as multiprocessing's spawn and fork server do) would run the page again inside the parse."""
    script = tmp_path / "page.py"
    script.write_text(textwrap.dedent("""
        from minsheng.ingest import readers
        print("page ran", flush=True)
        print(readers.read_isolated("指标编码,数值\\na,1\\n".encode(), "a.csv")[0].header)
    """), encoding="utf-8")
    run = bounded([str(script)], data_copy)
    assert run["rc"] == 0, run["err"][-1500:]
    assert run["out"].count("page ran") == 1 and "['指标编码', '数值']" in run["out"], run["out"]
