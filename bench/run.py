"""The timed comparison: every planned query through the real query layer in this process, cold
and warm; the pandas baseline and the page timer in workers of their own; their answers compared."""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from bench import baseline, peak_rss_mb, percentile
from bench.plan import EXPORT_ROWS, plan, span
from minsheng import db, export, repo, store
from minsheng.reference import KEYS, same


def describe(directory: Path) -> str:
    """What the data is, for reports that may be shared: how it was made, never where it lives."""
    meta = store.read_meta(Path(directory))
    return meta.get("generated_by") or meta.get("title") or Path(directory).name


def ours(q: dict, directory: Path) -> dict[str, pd.DataFrame]:
    """A planned query as the page asks it, through repo and export."""
    if q["kind"] == "series":
        return {"series": repo.series(q["indicators"], q["regions"], *span(q), directory)}
    if q["kind"] == "goal":  # the 目标 page: the region's tasks, then their indicators over the year
        t = repo.targets(q["region"], q["year"], directory)
        s = repo.series(sorted(t["indicator_id"].unique()), [q["region"]], dt.date(q["year"], 1, 1),
                        dt.date(q["year"], 12, 1), directory)
        return {"targets": t, "series": s}
    ex = export.check(q["indicators"], q["region"], q["level"], *span(q), directory=directory)
    return {"table": export.table(ex, directory)}


def spawn(module: str, plan_path: Path, out: Path, env: dict | None = None, mem_limit: int | None = None) -> str | None:
    """Run the worker `python -m bench.<module> PLAN OUT` from the project root; None when it
    succeeded, else the last line of its error output."""
    def limit():  # an address-space cap: a baseline that outgrows the estimate fails, not the machine
        if mem_limit:
            resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))

    r = subprocess.run([sys.executable, "-m", f"bench.{module}", str(plan_path), str(out)], cwd=store.ROOT,
                       env={**os.environ, **(env or {})}, capture_output=True, text=True, preexec_fn=limit)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]


def _keys(part: str, columns: dict) -> list[str]:
    """The columns that identify a row of each part of an answer."""
    return {"series": KEYS, "targets": ["indicator_id", "region_code", "year"],
            "table": [columns[k] for k in KEYS]}[part]


def _timed(q: dict, directory: Path, repeat: int, cold) -> tuple[dict, float, list[float]]:
    """A planned query once cold (after `cold()`) and `repeat` times warm: its answer and the times in ms."""
    cold()
    t = time.perf_counter()
    answer = ours(q, directory)
    cold_ms = 1000 * (time.perf_counter() - t)
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        answer = ours(q, directory)
        warm.append(1000 * (time.perf_counter() - t))
    return answer, cold_ms, warm


def _clickhouse(queries: list[dict], directory: Path, repeat: int, results: list[dict], answers: dict,
                columns: dict) -> None:
    """The same queries on ClickHouse (a server at MINSHENG_CLICKHOUSE_URL, else chDB in a temporary folder),
    after publishing this data there; times beside DuckDB's and whether the answers are the same."""
    from minsheng import clickhouse

    with tempfile.TemporaryDirectory(prefix="bench-chdb-") as tmp:
        where = os.environ.get("MINSHENG_CLICKHOUSE_URL") or "chdb:" + tmp
        t = time.perf_counter()
        clickhouse.publish(directory, where)
        publish_ms = 1000 * (time.perf_counter() - t)
        saved = {k: os.environ.get(k) for k in ("MINSHENG_ENGINE", "MINSHENG_CLICKHOUSE_URL", "MINSHENG_CLICKHOUSE_PATH")}
        os.environ["MINSHENG_ENGINE"] = "clickhouse"
        if where.startswith("chdb:"):
            os.environ["MINSHENG_CLICKHOUSE_PATH"] = tmp
        try:
            for q, r in zip(queries, results):
                got, cold, warm = _timed(q, directory, repeat, clickhouse.reset)
                diffs = [f"{part}: {d}" for part, df in got.items()
                         if (d := same(df, answers[q["name"]][part], _keys(part, columns)))]
                r |= dict(ch_cold_ms=cold, ch_p50_ms=percentile(warm, 50), ch_p95_ms=percentile(warm, 95),
                          ch_ratio=percentile(warm, 50) / r["p50_ms"] if r["p50_ms"] > 0 else None,
                          ch_agree=not diffs, ch_difference="；".join(diffs) or None, ch_publish_ms=publish_ms,
                          ch_where="ClickHouse 服务器" if not where.startswith("chdb:") else "chDB（嵌入式，单进程）")
        finally:
            clickhouse.reset()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def run(directory: Path, repeat: int = 5, pages: bool = True, export_rows: int = EXPORT_ROWS,
        engine: str = "duckdb") -> dict:
    """Time every query on both sides and the page runs; the report as `--json` writes it."""
    directory = Path(directory).resolve()
    p = plan(directory, export_rows) | {"repeat": repeat}
    rows = store.row_counts(store.resolve(directory))["observations"]
    results, answers = [], {}
    for q in p["queries"]:
        answers[q["name"]], cold, warm = _timed(q, directory, repeat, lambda: db.reset(directory))
        results.append(dict(name=q["name"], rows_out=int(sum(len(df) for df in answers[q["name"]].values())),
                            cold_ms=cold, p50_ms=percentile(warm, 50), p95_ms=percentile(warm, 95)))
    if engine == "both":
        _clickhouse(p["queries"], directory, repeat, results, answers, p["columns"])
    report = dict(rows=rows, data=describe(directory), repeat=repeat, peak_rss_mb=peak_rss_mb(),
                  params={q["name"]: {k: (v if not isinstance(v, list) or len(v) <= 6 else f"{len(v)} 项")
                                      for k, v in q.items() if k not in ("name", "kind")} for q in p["queries"]})
    need, avail = baseline.estimate(directory)
    report |= dict(baseline_estimate_mb=need / 2**20, available_mb=avail / 2**20)
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        plan_path = Path(tmp) / "plan.json"
        plan_path.write_text(json.dumps(p, ensure_ascii=False), encoding="utf-8")
        if need > baseline.RAM_SHARE * avail:
            base, note = None, (f"未运行：pandas 需约 {need / 2**30:.1f} GB，可用内存 {avail / 2**30:.1f} GB"
                                f"（上限为其 {baseline.RAM_SHARE:.0%}）")
        else:
            err = spawn("baseline", plan_path, Path(tmp), mem_limit=int(0.85 * avail))
            base = None if err else json.loads((Path(tmp) / "baseline.json").read_text(encoding="utf-8"))
            note = f"运行失败：{err}" if err else None
        report |= dict(baseline_runnable=base is not None, baseline_note=note,
                       baseline_peak_rss_mb=base["peak_rss_mb"] if base else None,
                       baseline_load_ms=base["load_ms"] if base else None)
        for r in results:
            b = base["queries"][r["name"]] if base else None
            r |= dict(baseline_cold_ms=b["first_ms"] + base["load_ms"] if b else None,
                      baseline_first_ms=b["first_ms"] if b else None,
                      baseline_p50_ms=percentile(b["warm_ms"], 50) if b else None,
                      baseline_p95_ms=percentile(b["warm_ms"], 95) if b else None)
            r["ratio"] = r["baseline_p50_ms"] / r["p50_ms"] if b and r["p50_ms"] > 0 else None
            if b:
                diffs = [f"{part}: {d}" for part, df in answers[r["name"]].items()
                         if (d := same(df, pd.read_parquet(Path(tmp) / f"{r['name']}.{part}.parquet"),
                                       _keys(part, p["columns"])))]
                r["agree"], r["difference"] = not diffs, "；".join(diffs) or None
            else:
                r["agree"], r["difference"] = None, None
        answers.clear()
        report["queries"] = results
        if pages:
            err = spawn("pages", plan_path, Path(tmp), env={"MINSHENG_DATA": str(directory)})
            got = {} if err else json.loads((Path(tmp) / "pages.json").read_text(encoding="utf-8"))
            report |= dict(page_run_ms=got.get("page_run_ms", {}), pages_peak_rss_mb=got.get("peak_rss_mb"),
                           map_deck_kb=got.get("map_deck_kb"),
                           page_errors=got.get("errors", []) + ([err] if err else []))
        else:
            report |= dict(page_run_ms={}, pages_peak_rss_mb=None, page_errors=[])
    return report
