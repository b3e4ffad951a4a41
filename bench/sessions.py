"""Users at once on a real server: `streamlit run app.py` on 127.0.0.1, and each session a
websocket client speaking the browser's protocol (BackMsg rerun_script out, ForwardMsg deltas back)
without rendering anything. Sessions run in the server's threads on its one DuckDB connection, as
with browsers, while twenty clients cost the two cores little (a headless Chromium page each would
not). The protocol is Streamlit's own and private, so this module is the one place that speaks it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from bench import percentile
from bench.plan import session_scopes
from minsheng import store
from minsheng.ui import pages as registry

PAGES = {p.url: p.title for p in registry.BROWSE}  # url path → title, the pages every user may open
SESSION_DURATION, SMOKE_DURATION = 180.0, 15.0
ALONE_ROUNDS = 6  # users in turn, each through every page once, for each page's CPU per run
RUN_TIMEOUT = 300.0  # a page run slower than this counts as failed
CONTENT = {"metric", "plotly_chart", "deck_gl_json_chart", "dataframe"}  # a page that drew one of these drew data


class Server:
    """One `streamlit run app.py` on a free port of 127.0.0.1, serving `directory`."""

    def __init__(self, directory: Path):
        self.directory, self.proc, self.port = Path(directory).resolve(), None, 0
        self.log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)

    def start(self, timeout: float = 90.0) -> "Server":
        for _ in range(3):  # the port can be taken between choosing it and binding it
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(store.ROOT / "app.py"),
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


def _query(scopes: dict, rng) -> str:
    """A URL query a user might arrive with: region, year and a choice of indicators per page."""
    def some(xs, k):
        return [xs[j] for j in rng.choice(len(xs), size=min(k, len(xs)), replace=False)] if xs else []

    pairs = [("region", scopes["regions"][rng.integers(len(scopes["regions"]))]),
             ("year", scopes["years"][rng.integers(len(scopes["years"]))])]
    pairs += [("inds", i) for i in some(scopes["indicators"], 3)] + [("xinds", i) for i in some(scopes["indicators"], 2)]
    pairs += [("ind", i) for i in some(scopes["map_indicators"], 1)]
    return urlencode(pairs)


def problems(msg, page: str) -> list[str]:
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


async def _connect(port: int):
    import websockets  # with the protocol classes, imported only when sessions run

    return websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None,
                              open_timeout=60, ping_interval=None)


async def _run_page(ws, page: str, query: str) -> tuple[float, list[str], bool]:
    """One page run as a browser asks for it: (milliseconds until the run finished, problems, drew data)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    back = BackMsg()
    back.rerun_script.query_string = query
    back.rerun_script.page_name = page
    found, drawn, t = [], False, time.perf_counter()
    await ws.send(back.SerializeToString())
    while True:  # a run the app restarts itself (st.rerun) ends with the next one
        msg = ForwardMsg()
        msg.ParseFromString(await asyncio.wait_for(ws.recv(), RUN_TIMEOUT))
        found += problems(msg, f"{PAGES[page]}?{query}")
        drawn = drawn or (msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element"
                          and msg.delta.new_element.WhichOneof("type") in CONTENT)
        if msg.WhichOneof("type") == "script_finished" and msg.script_finished != msg.FINISHED_EARLY_FOR_RERUN:
            return 1000 * (time.perf_counter() - t), found, drawn


async def _session(i: int, port: int, until: float, scopes, record) -> None:
    """One user: connect, go through every page in PAGES for a region and year, reconnect as a new
    user with another region and year, until `until` (a run under way is finished)."""
    rng = np.random.default_rng(1000 + i)
    order = list(PAGES)
    while time.monotonic() < until:
        query = _query(scopes, rng)
        start = int(rng.integers(len(order)))
        try:
            async with await _connect(port) as ws:
                for k in range(len(order)):
                    if time.monotonic() >= until:
                        return
                    page = order[(start + k) % len(order)]
                    ms, found, drawn = await _run_page(ws, page, query)
                    record(PAGES[page], ms, found, drawn)
        except Exception as e:  # a dropped connection or a run past RUN_TIMEOUT: a failed run
            record(None, None, [f"会话 {i}: {type(e).__name__}: {e}"[:300]], False)
            await asyncio.sleep(1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, all its threads (DuckDB's included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _alone(port: int, pid: int, scopes, rounds: int) -> dict[str, list[float]]:
    """Server CPU milliseconds of each page run with one user alone on the server (so that all of the
    server's CPU in a run is that run's): `rounds` users in turn, each through every page once."""
    rng = np.random.default_rng(7)
    cpu: dict[str, list[float]] = {p: [] for p in PAGES.values()}
    for _ in range(rounds):
        query = _query(scopes, rng)
        async with await _connect(port) as ws:
            for page in PAGES:
                c0 = cpu_seconds(pid)
                await _run_page(ws, page, query)
                cpu[PAGES[page]].append(1000 * (cpu_seconds(pid) - c0))
    return cpu


def run(directory: Path, n: int = 20, duration: float = SESSION_DURATION, alone_rounds: int = ALONE_ROUNDS) -> dict:
    """The `sessions` part of the report: first each page's server CPU per run with one user alone
    (`alone_rounds` users in turn), then `n` users at once for `duration` seconds — page times, the
    server's runs per second and its CPU per run under that load."""
    directory = Path(directory).resolve()
    scopes = session_scopes(directory)
    times: dict[str, list[float]] = {p: [] for p in PAGES.values()}
    drew = dict.fromkeys(PAGES.values(), 0)
    errors: list[str] = []

    def record(page, ms, found, drawn):
        if page is not None:
            times[page].append(ms)
            drew[page] += drawn
        errors.extend(found)

    server = Server(directory).start()
    try:
        alone = asyncio.run(_alone(server.port, server.proc.pid, scopes, alone_rounds))

        async def drive():
            until = time.monotonic() + duration
            await asyncio.gather(*(_session(i, server.port, until, scopes, record) for i in range(n)))

        t0, cpu0, server0 = time.monotonic(), time.process_time(), cpu_seconds(server.proc.pid)
        asyncio.run(drive())
        wall, client_cpu = time.monotonic() - t0, time.process_time() - cpu0
        server_cpu = cpu_seconds(server.proc.pid) - server0
        rss = server.peak_rss_mb()
        if server.proc.poll() is not None:
            errors.append(f"服务进程已退出：{server.tail(5)}")
    finally:
        server.stop()
    allt = [x for v in times.values() for x in v]
    return dict(n=n, duration_s=duration, wall_s=wall, client_cpu_s=client_cpu, runs=len(allt), errors=len(errors),
                p50_ms=percentile(allt, 50), p95_ms=percentile(allt, 95), peak_rss_mb=rss, driver="websocket（浏览器协议，不渲染）",
                runs_per_s=len(allt) / wall, server_cpu_s=server_cpu, cpu_ms_per_run=1000 * server_cpu / max(len(allt), 1),
                cores=len(os.sched_getaffinity(0)), alone_rounds=alone_rounds,
                regions=len(scopes["regions"]), years=scopes["years"], indicators=len(scopes["indicators"]),
                pages={p: dict(runs=len(v), drawn=drew[p], p50_ms=percentile(v, 50), p95_ms=percentile(v, 95),
                               cpu_ms_mean=float(np.mean(alone[p])) if alone[p] else None,
                               cpu_ms_p50=percentile(alone[p], 50))
                       for p, v in times.items()},
                error_samples=list(dict.fromkeys(errors))[:10])
