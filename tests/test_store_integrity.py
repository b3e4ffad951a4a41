"""Integrity of the versioned store: a checksum per file per version, damaged versions refused or
passed over for the newest whole one, one version per query, refusals (not tracebacks) on a full
disk or a read-only data directory."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import JIA, JIA1, JIA2, ROOT, WITHOUT_RETURNS, YI, fixture_tables
from minsheng import changes, db, files, integrity, repo, store
from test_store import amt_2023, cli, commit_k, d, mark, square, variant  # noqa: F401  (d: the fixture)




def vfile(d: Path, vid: str, name: str = "observations.parquet") -> Path:
    return d / ".versions" / vid / name


def overwrite(path: Path, n: int = 27) -> None:
    """Overwrite n bytes in the middle of a file, in place (every hard link to it sees them)."""
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(bytes(range(7, 7 + n)))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(directory: Path) -> dict[str, str]:
    """Every file under the data directory and its SHA-256, except the lock file (empty, made by any writer)."""
    return {str(p.relative_to(directory)): sha(p) for p in sorted(directory.rglob("*"))
            if p.is_file() and p.name != "lock"}


# --- 10. checksums ------------------------------------------------------------------------------

def test_each_version_records_the_sha256_of_each_of_its_files(d):
    v1 = commit_k(d, 1)
    folder = d / ".versions" / v1
    recorded = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["files"]
    expected = {p.relative_to(folder).as_posix(): sha(p) for p in folder.rglob("*")
                if p.is_file() and p.name not in ("version.json", "manifest.json")}
    assert {n: e["sha256"] for n, e in recorded.items()} == expected
    assert {"regions.parquet", "indicators.parquet", "observations.parquet", "targets.parquet", "rollup.parquet",
            "meta.json", "boundaries/county.geojson"} <= set(recorded)


def test_rollback_refuses_a_file_damaged_in_every_version_that_shares_it(d):
    """27 bytes overwritten in the current version's observations, a hard link shared with v1: a
    rollback to v1 would link the same damaged file and report success. It is refused instead,
    naming the file and every version holding it; the base, with its own file, still rolls back."""
    v1 = commit_k(d, 1)
    v2 = store.commit_boundaries(d, {"county": {"features": [square(YI, 114.0)]}})
    assert os.stat(vfile(d, v1)).st_ino == os.stat(vfile(d, v2)).st_ino
    overwrite(vfile(d, v2))
    before = tree(d)
    with pytest.raises(store.StoreError) as e:
        store.rollback(d, v1)
    msg = str(e.value)
    assert "observations.parquet" in msg and v1 in msg and v2 in msg and "未执行" in msg, msg
    assert str(d) not in msg and store.current(d) == v2 and tree(d) == before
    r = cli("rollback", v1, data_dir=d)
    assert r.returncode == 2 and "已损坏" in r.stderr and v2 in r.stderr and "Traceback" not in r.stderr
    store.rollback(d, "base")
    assert mark(d) == 0
    r = cli("check", data_dir=d)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = {line.split()[0]: line for line in r.stdout.splitlines()[1:]}
    assert "损坏" in lines[v1] and "损坏" in lines[v2] and "完好" in lines[store.current(d)], r.stdout


def test_a_damaged_current_version_falls_back_to_the_newest_whole_one(d):
    v1, v2 = commit_k(d, 1), commit_k(d, 2)
    overwrite(vfile(d, v2))
    r = store.reading(d)
    assert r.id == v1 and v2 in r.problem and "observations.parquet" in r.problem and str(d) not in r.problem
    assert amt_2023(d) == 12.5 + 1 and store.read_meta(d)["k"] == 1  # the pages' queries read v1, whole
    cur = db.cursor(d)
    assert cur.execute("select distinct batch_id from observations").fetchall() == [("k1",)]
    cur.close()
    r = cli("check", data_dir=d)
    assert r.returncode == 1 and v2 in r.stderr and v1 in r.stderr and "Traceback" not in r.stderr
    out = d.parent / "amt.csv"
    r = cli("export", "--indicator", "amt", "--region", JIA, "--from", "2023", "--to", "2023", "--out", str(out),
            data_dir=d)
    assert r.returncode == 0 and "已损坏" in r.stderr and v1 in r.stderr, r.stderr  # exported from v1, and says so
    assert "13.5" in out.read_text(encoding="utf-8-sig")


def test_an_unreadable_parquet_in_an_unverified_version_falls_back(d):
    """A version made before manifests (none recorded) is checked for a readable Parquet footer."""
    v1, v2 = commit_k(d, 1), commit_k(d, 2)
    vfile(d, v2, "manifest.json").unlink()
    vfile(d, v2).write_bytes(b"PAR1 not really")
    r = store.reading(d)
    assert r.id == v1 and "不是可读的 Parquet" in r.problem and amt_2023(d) == 12.5 + 1


def test_an_overwrite_with_its_mtime_set_back_is_caught_by_the_full_check(d):
    """Size and mtime are all a page view checks; the background full check catches the rest."""
    v1, v2 = commit_k(d, 1), commit_k(d, 2)
    assert store.reading(d).id == v2
    integrity.wait_for_background()
    path = vfile(d, v2)
    st = os.stat(path)
    overwrite(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    store.reading(d)  # the cheap check passes; the full one is queued
    integrity.wait_for_background()
    assert store.reading(d).id == v1
    assert cli("check", data_dir=d).returncode == 1


def test_a_torn_current_pointer_falls_back_and_a_rollback_repairs_it(d):
    v1, v2 = commit_k(d, 1), commit_k(d, 2)
    (d / ".versions" / "CURRENT").write_bytes(b"v0000\xff\x00\n")
    r = store.reading(d)
    assert r.id == v2 and "CURRENT" in r.problem and mark(d) == 2
    assert [h["id"] for h in store.history(d)] == [v2, v1, "base"]
    for args in (("history",), ("check",)):
        out = cli(*args, data_dir=d)
        assert "Traceback" not in out.stderr and v2 in out.stdout, out.stderr
    assert cli("check", data_dir=d).returncode == 1
    with pytest.raises(store.StoreError, match="CURRENT"):  # a commit onto an unknown parent: refused
        commit_k(d, 3)
    csv = d.parent / "k3.csv"
    csv.write_text("indicator_id,region_code,period,value\namt,%s,2023,99\n" % JIA, encoding="utf-8")
    out = cli("import", str(csv), "--yes", data_dir=d)
    assert out.returncode == 2 and "CURRENT" in out.stderr and "Traceback" not in out.stderr, out.stderr
    out = cli("rollback", v1, data_dir=d)
    assert out.returncode == 0, out.stderr
    new = out.stdout.split()[-1]
    assert store.current(d) == new and mark(d) == 1 and store.reading(d).problem is None
    assert store.history(d)[0]["parent"] == v2


def test_versions_without_a_manifest_keep_working_and_check_records_one(d):
    v1, v2 = commit_k(d, 1), commit_k(d, 2)
    for v in (v1, v2):
        vfile(d, v, "manifest.json").unlink()
    assert mark(d) == 2
    store.rollback(d, v1)
    assert mark(d) == 1
    r = cli("check", data_dir=d)
    assert r.returncode == 0 and "已按现有内容记录" in r.stdout, r.stdout + r.stderr
    recorded = json.loads(vfile(d, v1, "manifest.json").read_text(encoding="utf-8"))["files"]
    assert recorded["observations.parquet"]["sha256"] == sha(vfile(d, v1))
    assert json.loads((d / "manifest.json").read_text(encoding="utf-8"))["files"]["regions.parquet"]["sha256"] \
        == sha(d / "regions.parquet")
    store.write_tables(d, {"targets": variant(0)["targets"]}, {"title": "测试数据", "k": 0})  # demo rewrites base
    assert not (d / "manifest.json").exists() and store.rollback(d, "base")


@pytest.mark.parametrize("damage", ["checksum", "current"])
def test_the_page_keeps_working_and_tells_the_admin(tmp_path, monkeypatch, damage):
    """A damaged current version or a torn CURRENT no longer takes every page down."""
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d)
    monkeypatch.setenv("MINSHENG_DATA", str(d))
    obs = pd.read_parquet(d / "observations.parquet")
    vid = store.commit(d, {}, observations=obs.head(1).assign(value=obs["value"].iloc[0] + 1))
    if damage == "checksum":
        overwrite(vfile(d, vid))
    else:
        (d / ".versions" / "CURRENT").write_text("garbage", encoding="utf-8")
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    warning = " ".join(w.value for w in at.warning)
    assert "已损坏" in warning and ("CURRENT" in warning if damage == "current" else vid in warning), warning
    assert at.metric and not at.error  # the page is drawn, from the newest whole version
    shown = " ".join(str(e.value) for e in (*at.warning, *at.info, *at.error, *at.caption, *at.markdown))
    assert str(tmp_path) not in shown


# --- 11. one version per query --------------------------------------------------------------------

def test_a_query_sees_one_version_whole(d):
    """Readers compare a county's total (from the roll-up) with its townships (from the
    observations) in one query while another thread switches versions many times: never a mix.
    Each reader keeps a cursor for a burst of queries, as a page does for one run."""
    def townships(k):  # every township's count + k: the county total, + 2k, tells the version too
        t = variant(k)
        obs = t["observations"]
        obs.loc[(obs["indicator_id"] == "cnt") & obs["region_code"].isin([JIA1, JIA2]), "value"] += k
        return t

    vs = [store.commit(d, townships(k), meta_update={"k": k}) for k in (1, 2)]
    for i in range(24):  # more versions, alternating k = 1, 2 (rollbacks: links, quick to make)
        vs.append(store.rollback(d, vs[i % 2]))
    files.write_text(d / ".versions" / "CURRENT", vs[2] + "\n")  # the later ones are switched to in order
    k_of = {v: 1 + i % 2 for i, v in enumerate(vs)}
    sql = repo.load_sql("series")
    params = dict(indicators=["cnt"], regions=[JIA, JIA1, JIA2], date_from=dt.date(2023, 1, 1),
                  date_to=dt.date(2023, 3, 1), area=None)
    base = {r["region_code"] + str(r["period"]): r["value"] for r in fixture_tables()["observations"]
            .query("indicator_id == 'cnt'").to_dict("records")}
    stop, bursts, mixed, errors = threading.Event(), [0] * 3, [], []

    def read(i):
        while not stop.is_set():
            cur = db.cursor(d)
            try:
                for _ in range(3):
                    df = cur.execute(sql, params).df()
                    v = {(r.region_code, str(r.period)[:10]): r.value for r in df.itertuples()}
                    for m in ("2023-01-01", "2023-02-01", "2023-03-01"):
                        k1 = v[(JIA1, m)] - base[JIA1 + m]  # the township's mark: its version
                        if v[(JIA, m)] != v[(JIA1, m)] + v[(JIA2, m)] or v[(JIA2, m)] - base[JIA2 + m] != k1:
                            mixed.append((m, v))
            except Exception as e:  # noqa: BLE001 — a failed read counts against the switch too
                errors.append(repr(e))
            finally:
                cur.close()
            bursts[i] += 1

    readers = [threading.Thread(target=read, args=(i,)) for i in range(len(bursts))]
    for t in readers:
        t.start()
    t0, switched = time.monotonic(), []
    try:
        for v in vs[3:]:
            seen = list(bursts)
            while any(b <= s for b, s in zip(bursts, seen)) and time.monotonic() - t0 < 20:
                time.sleep(0.001)  # every reader finishes a burst begun before the switch …
            if time.monotonic() - t0 >= 20:
                break  # a very busy machine: fewer switches, each still with readers behind it
            files.write_text(d / ".versions" / "CURRENT", v + "\n")
            db.cursor(d).close()  # … and the switch happens here, while they query
            switched.append(v)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors and not mixed, (len(errors), errors[:3], len(mixed), mixed[:2])
    assert len(switched) >= 10 and sum(bursts) >= len(bursts) * len(switched)
    assert store.read_meta(d)["k"] == k_of[switched[-1]]


# --- 13. a full disk, a read-only data directory: refusals, nothing changed -----------------------

FULL_AT = 1024  # bytes: RLIMIT_FSIZE makes any write past it fail with EFBIG, as a full disk fails with ENOSPC
CHANGE = """
import json, sys
from minsheng import changes, store
from minsheng.ingest import pipeline
out = {}
def attempt(name, change):
    try:
        out[name] = ["ok", change()]
    except changes.StoreError as e:  # what the 导入 page catches and shows (views/import_page.attempt)
        out[name] = ["refused", str(e)]
d = store.data_dir()
plan = pipeline.prepare(open(sys.argv[1], "rb").read(), "导入.csv", d, kind="observations")
attempt("import", lambda: changes.commit(plan, actor="测试", source="test", accept_warnings=True))
attempt("rollback", lambda: changes.rollback("base", actor="测试", source="test"))
attempt("prune", lambda: store.prune(d, 0))
print(json.dumps(out, ensure_ascii=False))
"""
GOOD_CSV = ROOT / "tests" / "corpus" / "good" / "observations_utf8.csv"


@pytest.fixture
def shared_tmp():
    """A folder another account can read (pytest's own temp folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="minsheng-store-"))
    path.chmod(0o755)
    yield path
    for p in path.rglob("*"):  # a failed read-only test may leave write bits off
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(path)


def demo_with_versions(where: Path) -> Path:
    """A copy of the demo data with three versions, so that a rollback and a prune have work to do."""
    d = where / "data"
    shutil.copytree(ROOT / "data", d, ignore=WITHOUT_RETURNS)  # the corpus import changes approved months
    obs = pd.read_parquet(d / "observations.parquet").head(1)
    for k in (1, 2, 3):
        store.commit(d, {}, observations=obs.assign(value=obs["value"] + k))
    for p in [d, *d.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return d


def run_limited(args: list[str], d: Path, limit: str, n: int) -> subprocess.CompletedProcess:
    """Python with the disk full (limit="full") or the data directory not writable ("read-only":
    a read-only mount when the tests run as root, for whom permissions do not apply; else chmod)."""
    logs = d.parent / f"logs{n}"
    logs.mkdir(mode=0o777)
    logs.chmod(0o777)
    env = {"MINSHENG_DATA": str(d), "MINSHENG_AUDIT": str(logs / "audit.log"), "MINSHENG_USERS": str(logs / "u.json"),
           "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(logs)}
    cmd, preexec = [sys.executable, *args], None
    if limit == "full":
        def preexec():
            resource.setrlimit(resource.RLIMIT_FSIZE, (FULL_AT, FULL_AT))
    elif os.geteuid() == 0:  # root writes through permissions: a read-only bind mount in a private
        # mount namespace instead (it vanishes with the process; the import's parser child, started
        # from this Python, must still be able to run it, so no change of account)
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"],
                                                             capture_output=True).returncode != 0:
            pytest.skip("running as root without mount namespaces: no way to make the data directory read-only")
        cmd = ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(d), *cmd]
    else:
        for p in [d, *d.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        return subprocess.run(cmd, cwd=ROOT, env=env, preexec_fn=preexec, capture_output=True, text=True, timeout=120)
    finally:
        if limit != "full" and os.geteuid() != 0:
            for p in [d, *d.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)


REFUSAL = {"full": "磁盘空间不足", "read-only": "数据目录不可写"}


@pytest.mark.parametrize("limit", ["full", "read-only"])
def test_import_rollback_prune_refuse_in_chinese_and_change_nothing(shared_tmp, limit):
    """Through the functions the 导入 page calls (minsheng.changes) and on the command line: a
    Chinese refusal naming the cause, no traceback, no server path, the data byte for byte as it was.
    A prune on a full disk may go ahead: it frees space and writes nothing."""
    d = demo_with_versions(shared_tmp)
    before = tree(d)
    r = run_limited(["-c", CHANGE, str(GOOD_CSV)], d, limit, 0)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    out = json.loads(r.stdout.splitlines()[-1])
    refused = ["import", "rollback"] + (["prune"] if limit == "read-only" else [])
    for name in refused:
        state, msg = out[name]
        assert state == "refused" and REFUSAL[limit] in msg and "数据未改变" in msg and str(d) not in msg, (name, msg)
    if limit == "read-only":
        assert tree(d) == before
    else:
        state, gone = out["prune"]  # v000001 (the current v000003 and its parent are kept)
        assert state == "ok" and [g[:7] for g in gone] == ["v000001"] and store.reading(d).id == store.current(d)
        d = demo_with_versions(shared_tmp / "again")
        before = tree(d)
    for n, args in enumerate((["import", str(GOOD_CSV), "--yes"], ["rollback", "base"],
                              *([["prune", "--keep", "0"]] if limit == "read-only" else [])), 1):
        r = run_limited(["-m", "minsheng", *args], d, limit, n)
        assert r.returncode == 2 and REFUSAL[limit] in r.stderr and "Traceback" not in r.stderr, (args, r.stderr[-2000:])
        assert str(d) not in r.stderr
    assert tree(d) == before
