"""Observations and roll-ups as a base plus a delta (minsheng/layers.py): what readers see after imports,
compaction and rollback, against a pandas chain of the same imports, and kill -9 at every step.

The expectation is built here: the synthetic table as written, then each import's rows put in place of
those with the same indicator, region and period (pandas, row by row keys) — never the product's view.
Roll-ups are checked by `agree` (test_rollup.py): every region, indicator and period against
minsheng/reference.py, which aggregates leaf rows in Python.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pandas as pd
import pytest

from minsheng import db, layers, store, synth
from minsheng.reference import KEYS, layered
from test_rollup import agree

ROOT = store.ROOT
COLS = ["indicator_id", "region_code", "period", "value", "numerator", "denominator", "status", "source", "batch_id"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("delta_synth")
    synth.build(d, 20_000, scale="small")  # every kind × report level × frequency
    return d


@pytest.fixture
def d(built, tmp_path, monkeypatch):
    out = tmp_path / "data"
    shutil.copytree(built, out)
    monkeypatch.setenv("MINSHENG_COMPACT_ROWS", "1000000")  # no automatic fold unless a test asks
    return out


def base_rows(directory) -> pd.DataFrame:
    return pd.read_parquet(store.table_path(directory, "observations"))


def returns(directory, k: int) -> pd.DataFrame:
    """An import: some count rows with new values (k marks them) and one new month of a monthly count."""
    obs, ind = base_rows(directory), pd.read_parquet(store.table_path(directory, "indicators"))
    counts = ind.loc[(ind["kind"] == "count") & (ind["frequency"] == "month"), "id"].sort_values().tolist()
    changed = obs[obs["indicator_id"].isin(counts[:2])].sample(n=300, random_state=k).copy()
    changed["value"] = changed["value"].fillna(0) + 1000 * k
    last = obs[obs["indicator_id"] == counts[k % len(counts)]]
    new = last[last["period"] == last["period"].max()].head(200).copy()
    new["period"] = (pd.to_datetime(new["period"]) + pd.DateOffset(months=k)).dt.date
    new["value"] = float(k)
    rows = pd.concat([changed, new], ignore_index=True)
    rows["batch_id"] = f"k{k}"
    return rows[[c for c in COLS if c in obs.columns]]


def put(expected: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """`expected` with `rows` in place of those with the same key, the rest added (the import's rule)."""
    keep = ~pd.MultiIndex.from_frame(expected[KEYS]).isin(pd.MultiIndex.from_frame(rows[KEYS]))
    return pd.concat([expected[keep], rows[expected.columns]], ignore_index=True)


def seen(directory) -> pd.DataFrame:
    """The observations as the app's queries read them (db.py's view of the current version)."""
    cur = db.cursor(directory)
    try:
        return cur.execute("select * from observations").df()
    finally:
        cur.close()


def same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = list(b.columns)
    a = a[cols].assign(period=pd.to_datetime(a["period"])).sort_values(KEYS, ignore_index=True)
    b = b[cols].assign(period=pd.to_datetime(b["period"])).sort_values(KEYS, ignore_index=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_imports_write_a_delta_beside_the_linked_base_and_readers_see_them_applied(d):
    expected, base_inode = base_rows(d), os.stat(store.table_path(d, "observations")).st_ino
    for k in (1, 2, 3):
        rows = returns(d, k)
        store.commit(d, {}, observations=rows, note=f"k{k}")
        expected = put(expected, rows)
        folder = store.resolve(d)
        # the base is the same file (a hard link), the delta holds every key imported so far
        assert os.stat(store.table_path(folder, "observations")).st_ino == base_inode
        imported = pd.concat([returns(d, j) for j in range(1, k + 1)])[KEYS].drop_duplicates()
        assert layers.delta_rows(folder, "observations") == len(imported)
        assert layers.has_delta(folder, "rollup")
        assert store.history(d)[0]["rows"]["observations"] == len(expected)
    same_rows(seen(d), expected)
    same_rows(layered(store.resolve(d), "observations"), expected)
    agree(d)  # every roll-up row against a direct computation from the leaf rows


def test_compaction_keeps_every_number_and_leaves_no_delta(d):
    for k in (1, 2):
        store.commit(d, {}, observations=returns(d, k))
    before, series_before = seen(d), agree(d)
    made = store.compact(d, user="测试")
    folder = store.resolve(d)
    assert made == store.current(d) and store.history(d)[0]["action"] == "compact"
    assert not any(layers.has_delta(folder, n) for n in layers.LAYERED)
    same_rows(pd.read_parquet(store.table_path(folder, "observations")), before)
    pd.testing.assert_frame_equal(agree(d), series_before)
    assert store.compact(d) is None  # nothing left to fold
    # the folded base is stored like any base: sorted by region, indicator, period
    stored = pd.read_parquet(store.table_path(folder, "observations"))
    assert stored[["region_code", "indicator_id", "period"]].equals(
        stored[["region_code", "indicator_id", "period"]].sort_values(["region_code", "indicator_id", "period"],
                                                                      ignore_index=True))


def test_a_delta_past_the_limit_is_folded_by_the_commit(d, monkeypatch):
    monkeypatch.setenv("MINSHENG_COMPACT_ROWS", "250")  # one import of 300 rows passes it
    expected = put(base_rows(d), returns(d, 1))
    store.commit(d, {}, observations=returns(d, 1))
    folder = store.resolve(d)
    assert not layers.has_delta(folder, "observations") and not layers.has_delta(folder, "rollup")
    same_rows(pd.read_parquet(store.table_path(folder, "observations")), expected)
    agree(d)


def test_rollback_across_deltas_and_a_compaction_restores_each_version(d):
    first = store.commit(d, {}, observations=returns(d, 1))
    at_first = seen(d)
    store.commit(d, {}, observations=returns(d, 2))
    store.compact(d)
    store.rollback(d, first)
    same_rows(seen(d), at_first)
    agree(d)
    store.rollback(d, "base")
    same_rows(seen(d), base_rows(d))


def test_a_regions_change_rebuilds_the_roll_ups_from_base_and_delta(d):
    store.commit(d, {}, observations=returns(d, 1))
    regions = pd.read_parquet(store.table_path(store.resolve(d), "regions"))
    regions.loc[regions.index[-1], "name"] = "改名村"  # a new regions file: the roll-ups are built whole
    store.commit(d, {"regions": regions})
    folder = store.resolve(d)
    assert layers.has_delta(folder, "observations") and not layers.has_delta(folder, "rollup")
    agree(d)


# --- kill -9 at every step ------------------------------------------------------------------------

CHILD = """
import sys
sys.path[:0] = [{tests!r}, {root!r}]
from pathlib import Path
from test_store_delta import returns
from minsheng import store
d = Path({d!r})
if {compact!r}:
    store.compact(d)
else:
    store.commit(d, {{}}, observations=returns(d, {k}), note="k{k}")
"""


def killed(d, step: str, k: int, compact: bool = False) -> int:
    code = CHILD.format(tests=str(ROOT / "tests"), root=str(ROOT), d=str(d), k=k, compact=compact)
    env = {**os.environ, "MINSHENG_CRASH_AT": step}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120).returncode


@pytest.mark.parametrize("compact", [False, True], ids=["import", "compaction"])
def test_kill_at_each_step_of_a_delta_commit_and_a_compaction(d, compact):
    store.commit(d, {}, observations=returns(d, 1))
    old = seen(d)
    new = put(old, returns(d, 2)) if not compact else old
    for step in store.CRASH_STEPS:
        if step == "table-written" and not compact:
            continue  # an import writes a delta, no table
        if step == "delta-written" and compact:
            continue  # a compaction writes tables, no delta
        before = store.current(d)
        code = killed(d, step, 2, compact)
        assert code == -signal.SIGKILL, (step, code)
        now = store.current(d)
        same_rows(seen(d), new if now != before else old)
        assert (now != before) == (step == "switched"), step
        if now != before:  # back to the old version for the next step
            store.rollback(d, before)
            old_again = seen(d)
            same_rows(old_again, old)
    agree(d)


def test_cli_compact(d):
    store.commit(d, {}, observations=returns(d, 1))
    env = {**os.environ, "MINSHENG_DATA": str(d)}
    run = subprocess.run([sys.executable, "-m", "minsheng", "compact"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and "已把增量合并进基础文件" in run.stdout, run.stderr
    run = subprocess.run([sys.executable, "-m", "minsheng", "compact"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and "无需合并" in run.stdout
