"""Versioned store: commit, history, rollback, prune, the lock, the CLI, and survival of `kill -9` mid-commit."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import JIA, JIA1, ROOT, YI, fixture_tables
from minsheng import db, integrity, maps, repo, store

TMP_PREFIX = ".tmp-"


def variant(k: int) -> dict[str, pd.DataFrame]:
    """Observations and targets that both carry the mark k, so a mix of two versions is visible."""
    t = fixture_tables()
    obs, tg = t["observations"].copy(), t["targets"].copy()
    obs["batch_id"] = f"k{k}"
    obs.loc[obs["indicator_id"] == "amt", "value"] += k
    tg["task"] = tg["task"] + f"#{k}"
    return {"observations": obs, "targets": tg}


def square(code: str, x: float) -> dict:
    ring = [[x, 27.0], [x + 0.1, 27.0], [x + 0.1, 27.1], [x, 27.1], [x, 27.0]]
    return {"type": "Feature", "properties": {"code": code}, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def polygons(level: str, directory: Path) -> dict[str, float] | None:
    """{code: western edge} of a level's polygons as the map page would read them."""
    fc = maps.boundaries(level, directory)
    return fc and {f["properties"]["code"]: f["geometry"]["coordinates"][0][0][0] for f in fc["features"]}


@pytest.fixture
def d(tmp_path) -> Path:
    store.write_tables(tmp_path, {**fixture_tables(), **variant(0)}, {"title": "测试数据", "k": 0})
    (tmp_path / "boundaries").mkdir()
    fc = {"type": "FeatureCollection", "features": [square(JIA, 113.0), square(YI, 113.2)]}
    (tmp_path / "boundaries" / "county.geojson").write_text(json.dumps(fc), encoding="utf-8")
    return tmp_path


def mark(directory: Path) -> int:
    """The k of the current version, after checking every table and meta agree on it."""
    folder = store.resolve(directory)
    obs = pd.read_parquet(store.table_path(folder, "observations"))
    tg = pd.read_parquet(store.table_path(folder, "targets"))
    (k,) = {int(b[1:]) for b in obs["batch_id"]}
    assert {t.rsplit("#", 1)[1] for t in tg["task"]} == {str(k)}
    assert store.read_meta(directory)["k"] == k
    expected = variant(k)
    # observations are stored sorted by (region, indicator, period) for row-group pruning
    want = expected["observations"].sort_values(["region_code", "indicator_id", "period"], kind="stable")
    pd.testing.assert_frame_equal(obs, want.reset_index(drop=True))
    pd.testing.assert_frame_equal(tg, expected["targets"])
    # DuckDB, through the views the dashboard uses, sees the same version
    cur = db.cursor(directory)
    assert cur.execute("select distinct batch_id from observations").fetchall() == [(f"k{k}",)]
    cur.close()
    assert polygons("county", directory) == {JIA: 113.0, YI: 113.2}
    return k


def commit_k(directory: Path, k: int, **kw) -> str:
    return store.commit(directory, variant(k), file_name=f"导入{k}.xlsx", file_sha256=f"{k:064x}", note=f"k{k}",
                        meta_update={"k": k}, **kw)


def amt_2023(directory: Path) -> float:
    s = repo.series(["amt"], [JIA], dt.date(2023, 1, 1), dt.date(2023, 12, 1), directory=directory)
    return float(s["value"].iloc[0])


def test_commit_writes_only_given_tables_and_links_the_rest(d):
    ver0, amt0 = store.version(d), amt_2023(d)
    assert store.history(d)[0]["id"] == "base" and store.history(d)[0]["current"]
    vid = commit_k(d, 1, user="民政科员01", kind="observations")
    new = store.resolve(d)
    assert new == d / ".versions" / vid and store.current(d) == vid
    for name in ("regions.parquet", "indicators.parquet", "boundaries/county.geojson"):  # unchanged: the same file
        assert os.stat(new / name).st_ino == os.stat(d / name).st_ino
    assert (new / "observations.parquet").read_bytes() != (d / "observations.parquet").read_bytes()
    h = store.history(d)
    assert [r["id"] for r in h] == [vid, "base"] and h[0]["current"] and not h[1]["current"]
    assert h[0]["file_name"] == "导入1.xlsx" and h[0]["file_sha256"] == f"{1:064x}" and h[0]["user"] == "民政科员01"
    assert h[0]["rows"] == {n: len(t) for n, t in fixture_tables().items()}
    assert h[0]["changed"] == ["observations", "targets"] and h[0]["parent"] == "base"
    assert dt.datetime.fromisoformat(h[0]["created"]).tzinfo is not None
    # readers see the new version at once; the base files are untouched
    assert store.version(d) != ver0 and amt_2023(d) == amt0 + 1 and mark(d) == 1
    assert pd.read_parquet(d / "observations.parquet")["batch_id"].eq("k0").all()
    assert store.read_meta(d) == {"title": "测试数据", "k": 1}
    v2 = commit_k(d, 2)
    assert sorted([vid, v2]) == [vid, v2] and v2.startswith("v000002-")


def test_rollback_restores_bytes_and_is_itself_undoable(d):
    v1 = commit_k(d, 1)
    v1_bytes = {n: store.table_path(store.resolve(d), n).read_bytes() for n in store.TABLES}
    commit_k(d, 2)
    r1 = store.rollback(d, v1, user="李四")
    assert {n: store.table_path(store.resolve(d), n).read_bytes() for n in store.TABLES} == v1_bytes
    assert mark(d) == 1 and amt_2023(d) == 12.5 + 1
    rec = store.history(d)[0]
    assert (rec["id"], rec["action"], rec["source"], rec["user"], rec["current"]) == (r1, "rollback", v1, "李四", True)
    assert rec["changed"] == ["observations", "targets"]
    rb = store.rollback(d, "base")
    assert mark(d) == 0 and store.read_meta(d) == {"title": "测试数据", "k": 0}
    store.rollback(d, r1)  # undo the undo
    assert mark(d) == 1
    assert [r["action"] for r in store.history(d)] == ["rollback", "rollback", "rollback", "import", "import", "base"]
    assert store.history(d)[1]["id"] == rb
    for bad in ("v999999-20990101T000000", "../x", ""):
        with pytest.raises(store.StoreError, match="没有版本"):
            store.rollback(d, bad)
    with pytest.raises(store.StoreError, match="已是当前版本"):
        store.rollback(d, store.current(d))
    with pytest.raises(store.StoreError, match="未知数据表"):
        store.commit(d, {"nope": pd.DataFrame()})


def test_boundaries_are_versioned_and_merged_by_code(d):
    v1 = commit_k(d, 1)
    v2 = store.commit_boundaries(d, {"county": {"type": "FeatureCollection", "features": [square(YI, 114.0)]}},
                                 file_name="乙县.geojson")
    assert polygons("county", d) == {JIA: 113.0, YI: 114.0}  # 甲县 kept, 乙县 replaced
    assert (d / "boundaries" / "county.geojson").read_text().count("113.2")  # the base is untouched
    rec = store.history(d)[0]
    assert (rec["id"], rec["kind"], rec["changed"], rec["file_name"]) == (v2, "boundaries", ["boundaries/county"],
                                                                          "乙县.geojson")
    for name in store.TABLES:  # tables untouched: still the same files
        assert os.stat(store.table_path(store.resolve(d), name)).st_ino == \
            os.stat(store.table_path(d / ".versions" / v1, name)).st_ino
    store.commit_boundaries(d, {"township": {"features": [square(JIA1, 113.05)]}})
    assert polygons("township", d) == {JIA1: 113.05} and polygons("county", d) == {JIA: 113.0, YI: 114.0}
    store.commit_boundaries(d, {"county": {"features": [square(YI, 115.0)]}}, merge=False)
    assert polygons("county", d) == {YI: 115.0}
    store.rollback(d, v1)
    assert store.history(d)[0]["changed"] == ["boundaries/county", "boundaries/township"]
    assert polygons("township", d) is None and mark(d) == 1
    with pytest.raises(store.StoreError, match="未知边界级别"):
        store.commit_boundaries(d, {"province": {"features": []}})


def test_rollback_tells_what_changed_without_reading_a_table(d, monkeypatch):
    """The history note comes from file identities (links share them, copies keep size and mtime), not bytes."""
    import builtins
    import io

    def no_link(src, dst):
        raise OSError("links not supported here")

    v1 = commit_k(d, 1)
    monkeypatch.setattr(os, "link", no_link)  # this version copies the files it leaves alone
    store.commit_boundaries(d, {"county": {"features": [square(YI, 114.0)]}})
    commit_k(d, 2)
    monkeypatch.undo()
    assert os.stat(store.table_path(store.resolve(d), "regions")).st_ino != os.stat(d / "regions.parquet").st_ino
    integrity.wait_for_background()  # opening v3 queued its full check in a thread: not the rollback's reading
    opened = []

    def spy(real):
        def call(file, *args, **kw):
            opened.append(str(file))
            return real(file, *args, **kw)
        return call

    for module, name in ((builtins, "open"), (io, "open"), (os, "open")):  # Path.read_bytes goes through io.open
        monkeypatch.setattr(module, name, spy(getattr(module, name)))
    store.rollback(d, v1)
    monkeypatch.undo()
    data = [f for f in opened if f.endswith((".parquet", ".geojson"))]
    assert data == [], data
    assert opened  # the spy saw the small files it did open (CURRENT, meta.json, the roll-up stamp)
    assert store.history(d)[0]["changed"] == ["observations", "targets", "boundaries/county"]
    assert mark(d) == 1 and polygons("county", d) == {JIA: 113.0, YI: 113.2}


def test_expected_parent_and_nested_lock(d):
    v1 = commit_k(d, 1)
    with pytest.raises(store.StoreConflict, match="已被另一次提交更新"):
        commit_k(d, 2, expected_parent="base")
    with store.lock(d, timeout=1):  # an import may hold the lock across read–merge–commit
        commit_k(d, 2, expected_parent=v1)
    assert mark(d) == 2


def test_prune_keeps_current_parent_and_newest(d):
    ids = [commit_k(d, k) for k in range(1, 6)]
    cur = store.rollback(d, ids[0])  # current is a link-only copy of v1; its parent is ids[4]
    assert store.prune(d, keep=1) == ids[3::-1]
    assert [r["id"] for r in store.history(d)] == [cur, ids[4], "base"]
    assert mark(d) == 1  # hard links survive the deletion of the version they came from
    assert store.prune(d, keep=0) == []
    with pytest.raises(store.StoreError, match="没有版本"):
        store.rollback(d, ids[0])
    store.rollback(d, ids[4])
    assert store.prune(d, keep=5) == [] and mark(d) == 5
    assert sorted(p.name for p in (d / ".versions").iterdir() if p.name.startswith(".")) == []


# --- kill -9 at any moment ---------------------------------------------------------------------

def fork_commit(directory: Path, k: int, crash_at: str | None = None) -> int:
    """Run one commit in a forked child (cheap: pandas is already imported); returns its pid."""
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            if crash_at:
                os.environ["MINSHENG_CRASH_AT"] = crash_at
            commit_k(directory, k)
            code = 0
        finally:
            os._exit(code)
    return pid


def check_after_kill(directory: Path, old: int, n_versions: int) -> int:
    """The store opens, holds exactly the old or the new version, and history agrees with CURRENT."""
    k = mark(directory)
    assert k in (old, old + 1)
    h = store.history(directory)
    assert h[0]["current"] and h[0]["id"] == store.current(directory) and sum(r["current"] for r in h) == 1
    assert len(h) == n_versions + (k > old) + 1
    assert (h[0]["note"] == f"k{k}" if k else h[0]["id"] == "base") and h[0]["rows"]["observations"] == len(variant(k)["observations"])
    return k


def leftovers(directory: Path) -> set[str]:
    root, cur = directory / ".versions", store.current(directory)
    top = 0 if cur == "base" else int(cur[1:7])
    kinds = set()
    for p in root.iterdir() if root.is_dir() else ():
        if p.name.startswith(".tmp-CURRENT"):
            kinds.add("CURRENT temp")
        elif p.name.startswith(TMP_PREFIX):
            kinds.add("partial version")
        elif p.name.startswith("v") and int(p.name[1:7]) > top:
            kinds.add("orphan version")
    return kinds


def test_kill_at_each_named_step(d):
    expect = {"start": ("old", "partial version"), "table-written": ("old", "partial version"),
              "tables-linked": ("old", "partial version"),
              "derived-built": ("old", "partial version"), "before-rename": ("old", "partial version"),
              "renamed": ("old", "orphan version"), "current-written": ("old", "orphan version"),
              "switched": ("new", None)}
    # whole-table commits write no delta: that step is killed in test_store_delta.py, with merged imports
    assert set(expect) | {"delta-written"} == set(store.CRASH_STEPS)
    k = n = 0
    for step in expect:
        pid = fork_commit(d, k + 1, crash_at=step)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, step
        found = leftovers(d)
        new = check_after_kill(d, k, n)
        assert ("new" if new > k else "old") == expect[step][0], step
        assert expect[step][1] is None or expect[step][1] in found, (step, found)
        k, n = new, n + (new > k)
    commit_k(d, k + 1)  # the next commit clears every leftover
    assert leftovers(d) == set() and mark(d) == k + 1


def test_kill_at_random_moments(d, capsys):
    """SIGKILL one commit after a random delay, many times; each time the store is old or new, never a mix."""
    rng = random.Random(20261123)
    durations = []
    for k in (1, 2, 3):  # calibrate: how long one forked commit takes here
        t0 = time.perf_counter()
        assert os.waitpid(fork_commit(d, k), 0)[1] == 0
        durations.append(time.perf_counter() - t0)
    span = sorted(durations)[1] * 1.2
    k, n, kills, outcome, seen = 3, 3, 0, {"old": 0, "new": 0}, {}
    deadline, cap = time.monotonic() + 6, time.monotonic() + 40  # ≥ 30 kills even on a busy machine
    while (time.monotonic() < deadline or kills < 30) and kills < 300 and time.monotonic() < cap:
        pid = fork_commit(d, k + 1)
        time.sleep(rng.uniform(0, span))
        os.kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]  # killed, or finished cleanly before the kill: never failed
        assert status == 0 or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL)
        kills += 1
        for kind in leftovers(d):
            seen[kind] = seen.get(kind, 0) + 1
        new = check_after_kill(d, k, n)
        outcome["new" if new > k else "old"] += 1
        k, n = new, n + (new > k)
    with capsys.disabled():
        print(f"\n  kill -9 × {kills} (commit ≈ {span / 1.2 * 1000:.0f} ms): {outcome}, leftovers seen: {seen}")
    assert kills >= 30 and outcome["old"] and outcome["new"]
    commit_k(d, k + 1)
    assert leftovers(d) == set() and mark(d) == k + 1


# --- two processes ------------------------------------------------------------------------------

WORKER = """
import sys
sys.path[:0] = [{tests!r}, {root!r}]
from pathlib import Path
from test_store import commit_k
from minsheng import store
try:
    print(commit_k(Path({d!r}), {k}, lock_timeout={timeout}))
except store.StoreBusy as e:
    print(e, file=sys.stderr)
    sys.exit(3)
"""


def start_worker(d: Path, k: int, timeout: float) -> subprocess.Popen:
    code = WORKER.format(tests=str(ROOT / "tests"), root=str(ROOT), d=str(d), k=k, timeout=timeout)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_commit_one_after_the_other(d):
    with store.lock(d, timeout=1):  # both workers start while the lock is held, then race for it
        procs = [start_worker(d, k, timeout=60) for k in (1, 2)]
        busy = start_worker(d, 3, timeout=0.5)
        out, err = busy.communicate(timeout=60)
        assert busy.returncode == 3 and "另一个导入正在提交" in err and "Traceback" not in err
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    first, second = sorted(store.history(d)[:2], key=lambda r: r["id"])
    assert second["parent"] == first["id"] and second["current"]
    assert {first["note"], second["note"]} == {"k1", "k2"}
    assert len(store.history(d)) == 3 and mark(d) == int(second["note"][1:])  # k3 changed nothing
    assert leftovers(d) == set()


def test_busy_changes_nothing(d):
    v1 = commit_k(d, 1)
    before = sorted(p.name for p in (d / ".versions").iterdir())
    with store.lock(d, timeout=1):
        p = start_worker(d, 2, timeout=0.3)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 3 and "等待 0.3 秒后放弃" in err
    assert store.current(d) == v1 and sorted(p.name for p in (d / ".versions").iterdir()) == before


# --- command line -------------------------------------------------------------------------------

def cli(*args, data_dir):
    env = {"MINSHENG_DATA": str(data_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "minsheng", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_history_rollback_prune(d):
    v1, v2 = commit_k(d, 1), commit_k(d, 2)
    r = cli("history", data_dir=d)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["版本", "时间", "操作", "文件", "SHA-256", "行数", "当前"]
    assert lines[1].startswith(v2) and lines[1].endswith("●") and f"{2:064x}"[:12] in lines[1]
    assert "导入2.xlsx" in lines[1] and f"观测{len(variant(2)['observations'])}" in lines[1]
    assert lines[3].startswith("base") and not lines[3].endswith("●")
    r = cli("rollback", v1, data_dir=d)
    assert r.returncode == 0, r.stderr
    new = r.stdout.split()[-1]
    assert store.current(d) == new and mark(d) == 1
    bad = cli("rollback", "v000099-20990101T000000", data_dir=d)
    assert bad.returncode == 2 and "没有版本" in bad.stderr and "Traceback" not in bad.stderr
    assert store.current(d) == new
    r = cli("prune", "--keep", "1", data_dir=d)
    assert r.returncode == 0 and "已删除 1 个旧版本" in r.stdout and v1 in r.stdout
    assert [x["id"] for x in store.history(d)] == [new, v2, "base"] and mark(d) == 1
    assert cli("prune", data_dir=d).returncode == 2  # --keep is required: nothing is pruned by default


def test_first_commit_into_an_empty_directory(tmp_path):
    vid = store.commit(tmp_path, fixture_tables(), file_name="全部.xlsx")
    assert store.current(tmp_path) == vid and len(repo.regions(directory=tmp_path)) == 6
    assert store.history(tmp_path)[-1] == dict(id="base", parent=None, action="base", user=None, file_name=None,
                                               file_sha256=None, kind=None, created=None, rows={}, changed=[],
                                               note="初始数据", source=None, current=False)
