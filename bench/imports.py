"""A month's returns imported into the benchmark's data, as a clerk's file goes through the importer.

`python -m minsheng bench --data DIR --imports` makes a working copy of DIR out of hard links (a
commit never writes into an existing file, so the copy costs no disk and DIR stays as it is), writes a
CSV of the next month of the monthly indicators' rows at one city (about `ROWS` rows: what a city's
townships and villages send in a month), and runs it through the importer in a child process, twice
(two months, so the second commit meets a delta already there), then `compact`. The child reports each
phase's seconds — reading and checking the file with its preview (`pipeline.prepare`), the commit with
its roll-ups (`changes.commit`) — and the kernel its peak memory (wait4).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from minsheng import db, store

ROWS = 10_000

CHILD = """
import json, sys, time
from pathlib import Path
from minsheng import changes, store
from minsheng.ingest import pipeline
path, action = Path(sys.argv[1]), sys.argv[2]
t0 = time.perf_counter()
if action == "compact":
    made = changes.compact(actor="bench", source="cli")
    print(json.dumps({"compact_s": time.perf_counter() - t0, "version": made}))
    sys.exit(0)
plan = pipeline.prepare(path.read_bytes(), path.name, store.data_dir())
t1 = time.perf_counter()
assert not plan.errors, [str(p) for p in plan.errors[:5]]
version = changes.commit(plan, actor="bench", source="cli", accept_warnings=True)
t2 = time.perf_counter()
print(json.dumps({"prepare_s": t1 - t0, "commit_s": t2 - t1, "total_s": t2 - t0, "version": version,
                  "added": int(plan.counts["新增"]), "changed": int(plan.counts["修改"])}))
"""


def _linked_copy(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, copy_function=os.link, ignore=shutil.ignore_patterns(".tmp-*", "lock", "audit.log"))


def returns_file(directory: Path, months_ahead: int, out: Path, rows: int = ROWS) -> int:
    """A CSV of the month after the newest one, for the monthly count and amount indicators at the city
    with the fewest rows that still gives `rows` rows; returns its row count."""
    cur = db.cursor(directory)
    try:
        df = cur.execute("""
            with monthly as (select id from indicators where frequency = 'month' and kind in ('count', 'amount')),
            latest as (select max(period) as p from observations where indicator_id in (select id from monthly)),
            rows as (
                select o.indicator_id, o.region_code, o.period, o.value, a.ancestor as city
                from observations o join ancestors a on a.code = o.region_code
                join regions r on r.code = a.ancestor and r.level = 'city'
                where o.indicator_id in (select id from monthly) and o.period = (select p from latest)
            )
            select * from rows where city = (select city from rows group by city order by count(*) desc limit 1)
            order by indicator_id, region_code
            limit $n
        """, {"n": rows}).df()
    finally:
        cur.close()
    import pandas as pd

    df["period"] = (pd.to_datetime(df["period"]) + pd.DateOffset(months=months_ahead)).dt.strftime("%Y-%m")
    df["value"] = df["value"].fillna(0).round(0) + months_ahead
    df[["indicator_id", "region_code", "period", "value"]].to_csv(out, index=False, encoding="utf-8-sig")
    return len(df)


def _child(directory: Path, args: list[str]) -> dict:
    env = {**os.environ, "MINSHENG_DATA": str(directory)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=store.ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.perf_counter()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"导入基准失败：{err[-2000:]}")
    return {**json.loads(out.strip().splitlines()[-1]), "wall_s": wall, "peak_mb": usage.ru_maxrss / 1024}


def run(directory: Path, rows: int = ROWS) -> dict:
    """Two months' returns and a compaction on a linked copy of `directory`; the report's "imports"."""
    with tempfile.TemporaryDirectory(prefix="minsheng-bench-import-", dir=Path(directory).resolve().parent) as tmp:
        work = Path(tmp) / "data"
        _linked_copy(Path(directory), work)
        out = {"base_rows": store.row_counts(store.resolve(work))["observations"], "months": []}
        for month in (1, 2):
            f = Path(tmp) / f"returns-{month}.csv"
            n = returns_file(work, month, f, rows)
            out["months"].append({"rows": n, **_child(work, [str(f), "import"])})
            db.reset(work)
        out["compact"] = _child(work, ["-", "compact"])
        out["rows_after"] = store.row_counts(store.resolve(work))["observations"]
        db.reset(work)
    return out
