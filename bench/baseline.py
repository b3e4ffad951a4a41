"""The baseline: the planned queries answered by the pandas reference (minsheng.reference), which
loads the tables whole; run as `python -m bench.baseline PLAN OUT` so its peak RSS is its own,
and only when its estimated peak fits in memory."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from bench import peak_rss_mb
from bench.plan import span
from minsheng import store
from minsheng.reference import OBS_COLS, Reference

PEAK_FACTOR = 2.2  # the baseline's peak RSS over its loaded frames' size (≈2.0 measured at 10M rows, with margin)
RAM_SHARE = 0.6  # run the baseline only if its estimated peak fits in this share of available memory


def answer(ref: Reference, q: dict, columns: dict) -> dict[str, pd.DataFrame]:
    """A planned query answered by the reference, in the same parts as bench.run.ours."""
    if q["kind"] == "series":
        return {"series": ref.series(q["indicators"], q["regions"], *span(q))}
    if q["kind"] == "goal":
        t = ref.targets(q["region"], q["year"])
        s = ref.series(sorted(t["indicator_id"].unique()), [q["region"]], dt.date(q["year"], 1, 1),
                       dt.date(q["year"], 12, 1))
        return {"targets": t, "series": s}
    s = ref.series(q["indicators"], ref.scope(q["region"], q["level"]), *span(q))
    return {"table": ref.table(s, columns)}


def estimate(directory: Path) -> tuple[int, int]:
    """(bytes the baseline would peak at, bytes available): from a sample row group, before loading anything."""
    pf = pq.ParquetFile(store.table_path(store.resolve(Path(directory)), "observations"))
    rows = pf.metadata.num_rows
    need = 400 * 2**20  # the interpreter, pandas, the other tables
    if rows and pf.metadata.num_row_groups:
        sample = pf.read_row_group(0, columns=OBS_COLS).slice(0, 100_000).to_pandas(date_as_object=False)
        need += int(sample.memory_usage(deep=True).sum() / max(1, len(sample)) * rows * PEAK_FACTOR)
    return need, _available()


def _available() -> int:
    with open("/proc/meminfo", encoding="ascii") as f:
        info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
    return info.get("MemAvailable", info.get("MemFree", 0))


def main(plan_path: str, out: str) -> int:
    """Load, then answer every planned query once cold and `repeat` times warm; the answers go to
    OUT as Parquet for the comparison, the timings to OUT/baseline.json."""
    p = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    ref = Reference(Path(p["data"]))
    res = {"load_ms": 1000 * (time.perf_counter() - t0), "queries": {}}
    for q in p["queries"]:
        t = time.perf_counter()
        ans = answer(ref, q, p["columns"])
        first = 1000 * (time.perf_counter() - t)
        warm = []
        for _ in range(p["repeat"]):
            t = time.perf_counter()
            answer(ref, q, p["columns"])
            warm.append(1000 * (time.perf_counter() - t))
        res["queries"][q["name"]] = {"first_ms": first, "warm_ms": warm}
        for part, df in ans.items():
            df.to_parquet(Path(out) / f"{q['name']}.{part}.parquet", index=False)
    res["peak_rss_mb"] = peak_rss_mb()
    (Path(out) / "baseline.json").write_text(json.dumps(res), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
