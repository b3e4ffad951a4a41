"""The pages' queries timed through minsheng.repo against a pandas baseline (`python -m minsheng bench`)."""

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

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from minsheng import fmt, store
from minsheng.reference import KEYS, OBS_COLS, Reference, same

EXPORT_ROWS = 1_000_000
PEAK_FACTOR = 2.2  # the baseline's peak RSS over its loaded frames' size (≈2.0 measured at 10M rows, with margin)
RAM_SHARE = 0.6  # run the baseline only if its estimated peak fits in this share of available memory
_date = dt.date.fromisoformat


# --- what to ask -------------------------------------------------------------------------

def _coverage(directory: Path) -> pd.DataFrame:
    """Rows per indicator and county (a code's first 6 digits), to pick queries whose answers are not empty.
    Planning only, never timed; the timed queries all go through repo."""
    from minsheng import db

    cur = db.cursor(directory)
    try:
        return cur.execute("select indicator_id, left(region_code, 6) as county, count(*) as n, max(period) as last "
                           "from observations group by all").df()
    finally:
        cur.close()


def plan(directory: Path, export_rows: int = EXPORT_ROWS) -> dict:
    """Queries as the pages issue them, with regions and indicators that have data."""
    from minsheng import export, repo

    reg, ind, per, meta = repo.regions(directory), repo.indicators(directory), repo.periods(directory), repo.meta(directory)
    year = pd.Timestamp(meta.get("data_date") or per["last_period"].max()).year
    first = pd.Timestamp(per["first_period"].min()).year
    kids: dict = {}
    for c, p in zip(reg["code"], reg["parent_code"]):
        kids.setdefault(p if pd.notna(p) else None, []).append(c)
    root = sorted(kids[None])[0]
    city = reg.loc[reg["level"] == "city", "code"].min()
    counties = [c for c in sorted(kids.get(city, [])) if kids.get(c)]
    cov = _coverage(directory).merge(ind[["id", "kind", "frequency", "report_level"]], left_on="indicator_id", right_on="id")
    below = cov[cov["report_level"].isin(["township", "village"]) & cov["county"].isin([c[:6] for c in counties])]
    county = (counties[0] if below.empty else
              next(c for c in counties if c[:6] == below.groupby("county")["n"].sum().idxmax()))
    towns = sorted(kids[county])
    here = below[below["county"] == county[:6]].sort_values(["n", "indicator_id"], ascending=[False, True])

    def best(mask) -> str | None:  # the indicator with the most rows in the county
        d = here[mask]
        return d["indicator_id"].iloc[0] if len(d) else None

    trend = [i for i in (best((here["kind"] == "count") & (here["frequency"] == "month")), best(here["kind"] == "rate")) if i]
    map_ind = best((here["report_level"] == "township") & here["kind"].isin(["count", "amount"])) or best(here["report_level"] == "township")
    map_period = pd.Timestamp(here.loc[here["indicator_id"] == map_ind, "last"].max() if map_ind else dt.date(year, 12, 1)).date()
    # the export: the level with the most rows, its biggest indicators until about `export_rows` rows
    n = cov.groupby("indicator_id")["n"].sum()
    ind = ind.assign(n=ind["id"].map(n).fillna(0))
    leaf = ind.groupby("report_level")["n"].sum().idxmax()
    pool = ind[ind["report_level"] == leaf].sort_values(["n", "id"], ascending=[False, True])
    take = int(np.searchsorted(pool["n"].cumsum().to_numpy(), export_rows)) + 1
    ex_ids, ex_from, ex_to = pool["id"].iloc[:take].tolist(), dt.date(first, 1, 1), dt.date(year, 12, 1)
    level, scope, stack = dict(zip(reg["code"], reg["level"])), [], [root]
    while stack:  # export.regions_in_scope: the root's descendants at that level
        c = stack.pop()
        scope += [c] if level[c] == leaf else []
        stack += kids.get(c, [])
    scope.sort()
    iso = dt.date.isoformat
    queries = [
        dict(name="overview", kind="series", indicators=ind["id"].tolist(), regions=[city],
             date_from=iso(dt.date(year - 2, 1, 1)), date_to=iso(dt.date(year, 12, 31))),
        # the trend page's span: a year more than shown, so the first year has its 同比
        dict(name="trend", kind="series", indicators=trend, regions=[county, *towns],
             date_from=iso(dt.date(first - 1, 1, 1)), date_to=iso(dt.date(year, 12, 31))),
        dict(name="map", kind="series", indicators=[map_ind] if map_ind else [], regions=towns,
             date_from=iso(map_period), date_to=iso(map_period)),
        dict(name="goal", kind="goal", region=city, year=year),
        dict(name="export", kind="export", indicators=ex_ids, region=root, level=leaf,
             date_from=iso(ex_from), date_to=iso(ex_to)),
        # the export's query alone, without export.table's formatting
        dict(name="export_series", kind="series", indicators=ex_ids, regions=scope,
             date_from=iso(ex_from), date_to=iso(ex_to)),
    ]
    return dict(data=str(Path(directory).resolve()), queries=queries, columns=export.COLUMNS,
                pages=dict(city=city, county=county, year=year, trend=trend))


# --- our side: the real query layer ------------------------------------------------------

def describe(directory: Path) -> str:
    """What the data is, for reports that may be shared: how it was made, never where it lives."""
    meta = store.read_meta(Path(directory))
    return meta.get("generated_by") or meta.get("title") or Path(directory).name


def ours(q: dict, directory: Path) -> dict[str, pd.DataFrame]:
    from minsheng import export, repo

    if q["kind"] == "series":
        return {"series": repo.series(q["indicators"], q["regions"], _date(q["date_from"]), _date(q["date_to"]), directory)}
    if q["kind"] == "goal":  # the 目标 page: the region's tasks, then their indicators over the year
        t = repo.targets(q["region"], q["year"], directory)
        s = repo.series(sorted(t["indicator_id"].unique()), [q["region"]], dt.date(q["year"], 1, 1),
                        dt.date(q["year"], 12, 1), directory)
        return {"targets": t, "series": s}
    ex = export.check(q["indicators"], q["region"], q["level"], _date(q["date_from"]), _date(q["date_to"]),
                      directory=directory)
    return {"table": export.table(ex, directory)}


def _fresh_connection(directory: Path) -> None:
    """Drop the process's DuckDB connection for `directory`, so the next query opens a new one (cold)."""
    from minsheng import db

    with db._lock:
        con, _ = db._cons.pop(Path(directory).resolve(), (None, None))
    if con is not None:
        con.close()


# --- the baseline: pandas over whole tables ----------------------------------------------

def answer(ref: Reference, q: dict, columns: dict) -> dict[str, pd.DataFrame]:
    """A planned query answered by the pandas reference: the same parts as `ours`."""
    if q["kind"] == "series":
        return {"series": ref.series(q["indicators"], q["regions"], _date(q["date_from"]), _date(q["date_to"]))}
    if q["kind"] == "goal":
        t = ref.targets(q["region"], q["year"])
        s = ref.series(sorted(t["indicator_id"].unique()), [q["region"]], dt.date(q["year"], 1, 1),
                       dt.date(q["year"], 12, 1))
        return {"targets": t, "series": s}
    s = ref.series(q["indicators"], ref.scope(q["region"], q["level"]), _date(q["date_from"]), _date(q["date_to"]))
    return {"table": ref.table(s, columns)}


def baseline_estimate(directory: Path) -> tuple[int, int]:
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


# --- workers: separate processes, so each side's peak RSS is its own ---------------------

def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _baseline_worker(plan_path: str, out: str) -> int:
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
    res["peak_rss_mb"] = _rss_mb()
    (Path(out) / "baseline.json").write_text(json.dumps(res), encoding="utf-8")
    return 0


def _pages_worker(plan_path: str, out: str) -> int:
    """Time whole page runs with AppTest on the data in MINSHENG_DATA (set by the caller)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from minsheng.ui import state

    pg = json.loads(Path(plan_path).read_text(encoding="utf-8"))["pages"]
    at = AppTest.from_file(str(store.ROOT / "dashboard.py"), default_timeout=900)
    at.query_params["region"] = pg["city"]
    at.query_params["year"] = str(pg["year"])
    res, errors = {}, []

    def timed(name: str) -> None:
        t = time.perf_counter()
        at.run()
        res[name] = 1000 * (time.perf_counter() - t)
        errors.extend(f"{name}: {e.value}" for e in at.exception)

    timed("overview_first")  # imports, connection, every cache empty
    if not at.metric:
        errors.append("overview: 没有 KPI 卡片")
    st.cache_data.clear()
    timed("overview")  # the queries again, in a warm process
    timed("overview_rerun")  # a rerun that hits st.cache_data
    at.session_state[state.value_key("region")] = pg["county"]
    at.query_params["inds"] = pg["trend"]
    at.switch_page("views/trend.py")
    timed("trend")
    if not at.get("plotly_chart"):
        errors.append("trend: 没有画出图表")
    timed("trend_rerun")
    (Path(out) / "pages.json").write_text(json.dumps({"page_run_ms": res, "errors": errors, "peak_rss_mb": _rss_mb()}),
                                          encoding="utf-8")
    return 0


def _spawn(kind: str, plan_path: Path, out: Path, env: dict | None = None, mem_limit: int | None = None) -> str | None:
    """Run a worker; None when it succeeded, else the tail of its error output."""
    def limit():  # an address-space cap: a baseline that outgrows the estimate fails, not the machine
        if mem_limit:
            resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))

    r = subprocess.run([sys.executable, "-m", "minsheng.bench", kind, str(plan_path), str(out)], cwd=store.ROOT,
                       env={**os.environ, **(env or {})}, capture_output=True, text=True, preexec_fn=limit)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]


# --- comparing ---------------------------------------------------------------------------

def _keys(part: str, columns: dict) -> list[str]:
    return {"series": KEYS, "targets": ["indicator_id", "region_code", "year"],
            "table": [columns[k] for k in KEYS]}[part]


# --- the run -----------------------------------------------------------------------------

def _ms(xs: list[float], pct: float) -> float:
    return float(np.percentile(xs, pct)) if xs else float("nan")


def run(directory: Path, repeat: int = 5, pages: bool = True, export_rows: int = EXPORT_ROWS) -> dict:
    """Time every query on both sides and the page runs; the report as `--json` writes it."""
    directory = Path(directory).resolve()
    p = plan(directory, export_rows) | {"repeat": repeat}
    rows = pq.ParquetFile(store.table_path(store.resolve(directory), "observations")).metadata.num_rows
    results, answers = [], {}
    for q in p["queries"]:
        _fresh_connection(directory)  # cold: a new connection, views and Parquet footers read again
        t = time.perf_counter()
        answers[q["name"]] = ours(q, directory)
        cold = 1000 * (time.perf_counter() - t)
        warm = []
        for _ in range(repeat):
            t = time.perf_counter()
            answers[q["name"]] = ours(q, directory)
            warm.append(1000 * (time.perf_counter() - t))
        results.append(dict(name=q["name"], rows_out=int(sum(len(df) for df in answers[q["name"]].values())),
                            cold_ms=cold, p50_ms=_ms(warm, 50), p95_ms=_ms(warm, 95)))
    report = dict(rows=rows, data=describe(directory), repeat=repeat, peak_rss_mb=_rss_mb(),
                  params={q["name"]: {k: (v if not isinstance(v, list) or len(v) <= 6 else f"{len(v)} 项")
                                      for k, v in q.items() if k not in ("name", "kind")} for q in p["queries"]})
    need, avail = baseline_estimate(directory)
    report |= dict(baseline_estimate_mb=need / 2**20, available_mb=avail / 2**20)
    with tempfile.TemporaryDirectory(prefix="minsheng-bench-") as tmp:
        plan_path = Path(tmp) / "plan.json"
        plan_path.write_text(json.dumps(p, ensure_ascii=False), encoding="utf-8")
        if need > RAM_SHARE * avail:
            base, note = None, (f"未运行：pandas 需约 {need / 2**30:.1f} GB，可用内存 {avail / 2**30:.1f} GB"
                                f"（上限为其 {RAM_SHARE:.0%}）")
        else:
            err = _spawn("baseline", plan_path, Path(tmp), mem_limit=int(0.85 * avail))
            base = None if err else json.loads((Path(tmp) / "baseline.json").read_text(encoding="utf-8"))
            note = f"运行失败：{err}" if err else None
        report |= dict(baseline_runnable=base is not None, baseline_note=note,
                       baseline_peak_rss_mb=base["peak_rss_mb"] if base else None,
                       baseline_load_ms=base["load_ms"] if base else None)
        for r in results:
            b = base["queries"][r["name"]] if base else None
            r |= dict(baseline_cold_ms=b["first_ms"] + base["load_ms"] if b else None,
                      baseline_first_ms=b["first_ms"] if b else None,
                      baseline_p50_ms=_ms(b["warm_ms"], 50) if b else None,
                      baseline_p95_ms=_ms(b["warm_ms"], 95) if b else None)
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
            err = _spawn("pages", plan_path, Path(tmp), env={"MINSHENG_DATA": str(directory)})
            got = {} if err else json.loads((Path(tmp) / "pages.json").read_text(encoding="utf-8"))
            report |= dict(page_run_ms=got.get("page_run_ms", {}), pages_peak_rss_mb=got.get("peak_rss_mb"),
                           page_errors=got.get("errors", []) + ([err] if err else []))
        else:
            report |= dict(page_run_ms={}, pages_peak_rss_mb=None, page_errors=[])
    return report


# --- concurrent sessions against a real server --------------------------------------------
# `streamlit run dashboard.py` on 127.0.0.1, and each session a websocket client speaking the
# browser's protocol (BackMsg rerun_script out, ForwardMsg deltas back) without rendering
# anything: sessions run in the server's threads on its one DuckDB connection, as with browsers,
# while twenty clients cost the two cores little (a headless Chromium page each would not).

PAGES = {"": "总览", "trend": "趋势", "map": "地图", "goals": "目标", "data": "数据"}  # url path → page
SESSION_DURATION, SMOKE_DURATION = 180.0, 15.0
RUN_TIMEOUT = 300.0  # a page run slower than this counts as failed
CONTENT = {"metric", "plotly_chart", "deck_gl_json_chart", "dataframe"}  # a page that drew one of these drew data


class Server:
    """One `streamlit run dashboard.py` on a free port of 127.0.0.1, serving `directory`."""

    def __init__(self, directory: Path):
        self.directory, self.proc, self.port = Path(directory).resolve(), None, 0
        self.log = tempfile.NamedTemporaryFile(prefix="minsheng-bench-server-", suffix=".log", delete=False)

    def start(self, timeout: float = 90.0) -> "Server":
        import socket
        import urllib.request

        for _ in range(3):  # the port can be taken between choosing it and binding it
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(store.ROOT / "dashboard.py"),
                 "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(self.port),
                 "--browser.gatherUsageStats", "false", "--server.runOnSave", "false",
                 "--server.fileWatcherType", "none"],
                cwd=store.ROOT, env={**os.environ, "MINSHENG_DATA": str(self.directory), "PYTHONUNBUFFERED": "1"},
                stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with opener.open(f"http://127.0.0.1:{self.port}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            return self
                except OSError:
                    time.sleep(0.2)
            tail = self.tail()
            self.stop()
            if "already in use" not in tail:
                break
        raise RuntimeError(f"streamlit 服务未能启动：{tail}")

    def tail(self, n: int = 15) -> str:
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-n:])

    def peak_rss_mb(self) -> float | None:
        """The server process's high-water resident set (VmHWM), while it still runs."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def session_scopes(directory: Path) -> dict:
    """What the sessions pick from: regions of every level (the province, cities, counties,
    townships), the data's last three years, and the indicators with the most rows (the pages'
    default indicators are the demo's, so a session chooses some, as a user would); for the map
    those reported by township or village."""
    from minsheng import repo

    reg, per, meta, ind = repo.regions(directory), repo.periods(directory), repo.meta(directory), repo.indicators(directory)
    year = pd.Timestamp(meta.get("data_date") or per["last_period"].max()).year
    codes = []
    for level in ("province", "city", "county", "township"):
        c = sorted(reg.loc[reg["level"] == level, "code"])
        codes += c[:: max(1, len(c) // 12)][:12]  # at most a dozen a level, spread over the list
    n = _coverage(directory).groupby("indicator_id")["n"].sum()
    ind = ind.assign(n=ind["id"].map(n).fillna(0)).sort_values(["n", "id"], ascending=[False, True])
    ind = ind[ind["n"] > 0]
    low = ind[ind["report_level"].isin(["township", "village"])]
    return dict(regions=codes, years=[year - 2, year - 1, year], indicators=ind["id"].head(30).tolist(),
                map_indicators=(low if len(low) else ind)["id"].head(10).tolist())


def _query(scopes: dict, rng) -> str:
    """A URL query a user might arrive with: region, year and a choice of indicators per page."""
    from urllib.parse import urlencode

    def some(xs, k):
        return [xs[j] for j in rng.choice(len(xs), size=min(k, len(xs)), replace=False)] if xs else []

    pairs = [("region", scopes["regions"][rng.integers(len(scopes["regions"]))]),
             ("year", scopes["years"][rng.integers(len(scopes["years"]))])]
    pairs += [("inds", i) for i in some(scopes["indicators"], 3)] + [("xinds", i) for i in some(scopes["indicators"], 2)]
    pairs += [("ind", i) for i in some(scopes["map_indicators"], 1)]
    return urlencode(pairs)


def _problems(msg, page: str) -> list[str]:
    """What in one ForwardMsg makes the page run count as failed."""
    kind = msg.WhichOneof("type")
    if kind == "page_not_found":
        return [f"{page}: 页面不存在"]
    if kind == "script_finished" and msg.script_finished == msg.FINISHED_WITH_COMPILE_ERROR:
        return [f"{page}: 脚本编译错误"]
    if kind != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return []
    el = msg.delta.new_element
    what = el.WhichOneof("type")
    if what == "exception":
        return [f"{page}: {el.exception.type}: {el.exception.message}"[:300]]
    if what == "alert" and el.alert.format == el.alert.ERROR:
        return [f"{page}: st.error {el.alert.body}"[:300]]
    text = el.markdown.body if what == "markdown" else el.alert.body if what == "alert" else ""
    return [f"{page}: {text}"[:300]] if "Traceback (most recent call last)" in text else []


async def _session(i: int, port: int, until: float, scopes, record) -> None:
    """One user: connect, go through the five pages for a region and year, reconnect as a new
    user with another region and year, until `until` (a run under way is finished)."""
    import asyncio

    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    rng = np.random.default_rng(1000 + i)
    order = list(PAGES)
    while time.monotonic() < until:
        query = _query(scopes, rng)
        start = int(rng.integers(len(order)))
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                          max_size=None, open_timeout=60, ping_interval=None) as ws:
                for k in range(len(order)):
                    if time.monotonic() >= until:
                        return
                    page = order[(start + k) % len(order)]
                    back = BackMsg()
                    back.rerun_script.query_string = query
                    back.rerun_script.page_name = page
                    problems, drawn, t = [], False, time.perf_counter()
                    await ws.send(back.SerializeToString())
                    while True:  # a run the app restarts itself (st.rerun) ends with the next one
                        msg = ForwardMsg()
                        msg.ParseFromString(await asyncio.wait_for(ws.recv(), RUN_TIMEOUT))
                        problems += _problems(msg, f"{PAGES[page]}?{query}")
                        drawn = drawn or (msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element"
                                          and msg.delta.new_element.WhichOneof("type") in CONTENT)
                        if (msg.WhichOneof("type") == "script_finished"
                                and msg.script_finished != msg.FINISHED_EARLY_FOR_RERUN):
                            break
                    record(PAGES[page], 1000 * (time.perf_counter() - t), problems, drawn)
        except Exception as e:  # a dropped connection or a run past RUN_TIMEOUT: a failed run
            record(None, None, [f"会话 {i}: {type(e).__name__}: {e}"[:300]], False)
            await asyncio.sleep(1)


def sessions(directory: Path, n: int = 20, duration: float = SESSION_DURATION) -> dict:
    """`n` users at once for `duration` seconds on a real server; the `sessions` part of the report."""
    import asyncio

    directory = Path(directory).resolve()
    scopes = session_scopes(directory)
    times: dict[str, list[float]] = {p: [] for p in PAGES.values()}
    drew = dict.fromkeys(PAGES.values(), 0)
    errors: list[str] = []

    def record(page, ms, problems, drawn):
        if page is not None:
            times[page].append(ms)
            drew[page] += drawn
        errors.extend(problems)

    server = Server(directory).start()
    try:
        async def drive():
            until = time.monotonic() + duration
            await asyncio.gather(*(_session(i, server.port, until, scopes, record) for i in range(n)))

        t0, cpu0 = time.monotonic(), time.process_time()
        asyncio.run(drive())
        wall, client_cpu = time.monotonic() - t0, time.process_time() - cpu0
        rss = server.peak_rss_mb()
        if server.proc.poll() is not None:
            errors.append(f"服务进程已退出：{server.tail(5)}")
    finally:
        server.stop()
    allt = [x for v in times.values() for x in v]
    return dict(n=n, duration_s=duration, wall_s=wall, client_cpu_s=client_cpu, runs=len(allt), errors=len(errors), p50_ms=_ms(allt, 50),
                p95_ms=_ms(allt, 95), peak_rss_mb=rss, driver="websocket（浏览器协议，不渲染）",
                regions=len(scopes["regions"]), years=scopes["years"], indicators=len(scopes["indicators"]),
                pages={p: dict(runs=len(v), drawn=drew[p], p50_ms=_ms(v, 50), p95_ms=_ms(v, 95)) for p, v in times.items()},
                error_samples=list(dict.fromkeys(errors))[:10])


def render(report: dict) -> str:
    """The report as a plain-text table."""
    if "queries" not in report:  # --only-sessions
        return "\n".join(render_sessions(report["sessions"]))
    def f(x, digits=0):
        return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:,.{digits}f}"

    head = ("查询", "输出行", "本实现冷", "p50", "p95", "pandas冷", "p50", "p95", "倍数", "一致")
    rows = [head] + [(r["name"], f(r["rows_out"]), f(r["cold_ms"]), f(r["p50_ms"]), f(r["p95_ms"]),
                      f(r["baseline_cold_ms"]), f(r["baseline_p50_ms"]), f(r["baseline_p95_ms"]),
                      f(r["ratio"], 1), {True: "是", False: "否", None: "—"}[r["agree"]]) for r in report["queries"]]
    lines = [f"观测 {report['rows']:,} 行 · {report['data']} · 重复 {report['repeat']} 次 · 时间单位 ms（倍数 = pandas p50 / 本实现 p50）"]
    lines += fmt.text_table(rows, right=tuple(range(1, len(head)))).splitlines()
    lines.append(f"峰值内存：本实现 {f(report['peak_rss_mb'])} MB；pandas {f(report['baseline_peak_rss_mb'])} MB"
                 f"（估计 {f(report['baseline_estimate_mb'])} MB，载入 {f(report['baseline_load_ms'])} ms）"
                 + (f"；页面进程 {f(report['pages_peak_rss_mb'])} MB" if report.get("pages_peak_rss_mb") else ""))
    if report["baseline_note"]:
        lines.append(f"pandas 基线{report['baseline_note']}")
    for r in report["queries"]:
        if r["agree"] is False:
            lines.append(f"不一致 {r['name']}：{r['difference']}")
    if report["page_run_ms"]:
        lines.append("页面运行（AppTest）：" + "，".join(f"{k} {v:,.0f} ms" for k, v in report["page_run_ms"].items()))
    lines += [f"页面错误：{e}" for e in report["page_errors"]]
    if report.get("sessions"):
        lines += render_sessions(report["sessions"])
    return "\n".join(lines)


def render_sessions(s: dict) -> list[str]:
    def f(x):
        return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:,.0f}"

    lines = [f"并发会话（真实服务，{s['driver']}）：{s['n']} 个会话 × {s['duration_s']:,.0f} s，"
             f"页面运行 {s['runs']:,} 次，错误 {s['errors']}，p50 {f(s['p50_ms'])} ms，p95 {f(s['p95_ms'])} ms，"
             f"服务峰值内存 {f(s['peak_rss_mb'])} MB；驱动端 CPU {s['client_cpu_s']:.1f} s / {s['wall_s']:.0f} s",
             "  按页面（运行次数，其中画出数据的次数）：" + "，".join(
                 f"{k} {v['runs']}（{v['drawn']}）次 p50 {f(v['p50_ms'])} / p95 {f(v['p95_ms'])} ms"
                                  for k, v in s["pages"].items())]
    return lines + [f"  会话错误：{e}" for e in s["error_samples"]]


def _bench(args) -> int:
    tmp = None
    if args.data:
        directory = Path(args.data)
    elif args.smoke:  # a tiny dataset of its own
        from minsheng import synth

        tmp = tempfile.TemporaryDirectory(prefix="minsheng-smoke-")
        directory = Path(tmp.name)
        synth.build(directory, 20_000, scale="small")
    else:
        print("请用 --data 指定数据目录（或 --smoke）", file=sys.stderr)
        return 2
    try:
        if args.only_sessions:
            report = {"data": describe(directory)}
        else:
            report = run(directory, repeat=2 if args.smoke else args.repeat, pages=not args.no_pages,
                         export_rows=20_000 if args.smoke else EXPORT_ROWS)
        if args.sessions or args.only_sessions:
            duration = args.duration or (SMOKE_DURATION if args.smoke else SESSION_DURATION)
            report["sessions"] = sessions(directory, args.sessions or 20, duration)
    finally:
        if tmp:
            tmp.cleanup()
    print(render(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    failed = any(r["agree"] is False for r in report.get("queries", [])) or report.get("page_errors")
    return 1 if failed or report.get("sessions", {}).get("errors") else 0


def add_parsers(sub) -> None:
    p = sub.add_parser("bench", help="按页面查询计时，并与 pandas 基线对比")
    p.add_argument("--data", help="数据目录（如 synth 生成的目录）")
    p.add_argument("--json", help="把结果写入 JSON 文件")
    p.add_argument("--repeat", type=int, default=5, help="热查询重复次数（默认 5）")
    p.add_argument("--smoke", action="store_true", help="快速冒烟：重复 2 次；无 --data 时自建小数据集")
    p.add_argument("--no-pages", action="store_true", help="不运行 AppTest 页面计时")
    p.add_argument("--sessions", type=int, default=0, metavar="N",
                   help="另起真实 streamlit 服务，N 个会话同时轮流访问各页面（如 20）")
    p.add_argument("--duration", type=float, help=f"并发会话持续秒数（默认 {SESSION_DURATION:.0f}；--smoke 时 {SMOKE_DURATION:.0f}）")
    p.add_argument("--only-sessions", action="store_true", help="只跑并发会话，不做查询与 pandas 对比")
    p.set_defaults(func=_bench)


if __name__ == "__main__":  # the workers: python -m minsheng.bench baseline|pages PLAN OUT
    sys.exit({"baseline": _baseline_worker, "pages": _pages_worker}[sys.argv[1]](*sys.argv[2:4]))
