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
        return peak_rss_mb(self.proc.pid)

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


def peak_rss_mb(pid: int) -> float | None:
    """A process's high-water resident set (VmHWM), while it still runs."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)


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


async def run_page(ws, page: str, query: str, widgets=()) -> list:
    """Run one page in the websocket's session (as a browser's click or link does) with these WidgetStates; the
    ForwardMsgs of the run, to its end (a run the app restarts itself, st.rerun, ends with the next one)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    back = BackMsg()
    back.rerun_script.query_string = query
    back.rerun_script.page_name = page
    back.rerun_script.widget_states.widgets.extend(widgets)
    await ws.send(back.SerializeToString())
    out = []
    while True:
        msg = ForwardMsg()
        msg.ParseFromString(await asyncio.wait_for(ws.recv(), RUN_TIMEOUT))
        out.append(msg)
        if msg.WhichOneof("type") == "script_finished" and msg.script_finished != msg.FINISHED_EARLY_FOR_RERUN:
            return out


def drew_data(msg) -> bool:
    return (msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element"
            and msg.delta.new_element.WhichOneof("type") in CONTENT)


async def _session(i: int, port: int, until: float, scopes, record, headers: dict | None = None) -> None:
    """One user: connect, go through every page in PAGES for a region and year, reconnect as a new
    user with another region and year, until `until` (a run under way is finished). `headers`: what a
    browser's websocket would carry through a proxy (cookies, Origin)."""
    import websockets  # imported only when sessions run

    rng = np.random.default_rng(1000 + i)
    order = list(PAGES)
    while time.monotonic() < until:
        query = _query(scopes, rng)
        start = int(rng.integers(len(order)))
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                          max_size=None, open_timeout=60, ping_interval=None,
                                          additional_headers=headers) as ws:
                for k in range(len(order)):
                    if time.monotonic() >= until:
                        return
                    page = order[(start + k) % len(order)]
                    t = time.perf_counter()
                    msgs = await run_page(ws, page, query)
                    record(PAGES[page], 1000 * (time.perf_counter() - t),
                           [x for m in msgs for x in problems(m, f"{PAGES[page]}?{query}")], any(map(drew_data, msgs)))
        except Exception as e:  # a dropped connection or a run past RUN_TIMEOUT: a failed run
            record(None, None, [f"会话 {i}: {type(e).__name__}: {e}"[:300]], False)
            await asyncio.sleep(1)


class _Tally:
    """Page-run times by page, how many drew data, and every problem, as the sessions record them."""

    def __init__(self):
        self.times: dict[str, list[float]] = {p: [] for p in PAGES.values()}
        self.drew = dict.fromkeys(PAGES.values(), 0)
        self.errors: list[str] = []

    def record(self, page, ms, found, drawn):
        if page is not None:
            self.times[page].append(ms)
            self.drew[page] += drawn
        self.errors.extend(found)

    def summary(self, scopes, **extra) -> dict:
        allt = [x for v in self.times.values() for x in v]
        return dict(**extra, runs=len(allt), errors=len(self.errors), p50_ms=percentile(allt, 50),
                    p95_ms=percentile(allt, 95), driver="websocket（浏览器协议，不渲染）",
                    regions=len(scopes["regions"]), years=scopes["years"], indicators=len(scopes["indicators"]),
                    pages={p: dict(runs=len(v), drawn=self.drew[p], p50_ms=percentile(v, 50), p95_ms=percentile(v, 95))
                           for p, v in self.times.items()},
                    error_samples=list(dict.fromkeys(self.errors))[:10])


def _drive(port: int, n: int, duration: float, scopes, tally: _Tally, headers=lambda i: None) -> dict:
    """`n` sessions on `port` for `duration` seconds; the wall and the driver's CPU seconds."""
    async def drive():
        until = time.monotonic() + duration
        await asyncio.gather(*(_session(i, port, until, scopes, tally.record, headers(i)) for i in range(n)))

    t0, cpu0 = time.monotonic(), time.process_time()
    asyncio.run(drive())
    return dict(n=n, duration_s=duration, wall_s=time.monotonic() - t0, client_cpu_s=time.process_time() - cpu0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, all its threads (DuckDB's included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _alone(port: int, pid: int, scopes, rounds: int) -> dict[str, list[float]]:
    """Server CPU milliseconds of each page run with one user alone on the server (so that all of the
    server's CPU in a run is that run's): `rounds` users in turn, each through every page once."""
    import websockets

    rng = np.random.default_rng(7)
    cpu: dict[str, list[float]] = {p: [] for p in PAGES.values()}
    for _ in range(rounds):
        query = _query(scopes, rng)
        async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=None, open_timeout=60, ping_interval=None) as ws:
            for page in PAGES:
                c0 = cpu_seconds(pid)
                await run_page(ws, page, query)
                cpu[PAGES[page]].append(1000 * (cpu_seconds(pid) - c0))
    return cpu


def run(directory: Path, n: int = 20, duration: float = SESSION_DURATION, alone_rounds: int = ALONE_ROUNDS) -> dict:
    """The `sessions` part of the report: first each page's server CPU per run with one user alone
    (`alone_rounds` users in turn), then `n` users at once for `duration` seconds — page times, the
    server's runs per second and its CPU per run under that load."""
    directory = Path(directory).resolve()
    scopes, tally = session_scopes(directory), _Tally()
    server = Server(directory).start()
    try:
        alone = asyncio.run(_alone(server.port, server.proc.pid, scopes, alone_rounds))
        cpu0 = cpu_seconds(server.proc.pid)
        timing = _drive(server.port, n, duration, scopes, tally)
        server_cpu = cpu_seconds(server.proc.pid) - cpu0
        rss = server.peak_rss_mb()
        if server.proc.poll() is not None:
            tally.errors.append(f"服务进程已退出：{server.tail(5)}")
    finally:
        server.stop()
    out = tally.summary(scopes, **timing, peak_rss_mb=rss)
    out.update(runs_per_s=out["runs"] / timing["wall_s"], server_cpu_s=server_cpu,
               cpu_ms_per_run=1000 * server_cpu / max(out["runs"], 1), cores=len(os.sched_getaffinity(0)),
               alone_rounds=alone_rounds)
    for page, row in out["pages"].items():
        row.update(cpu_ms_mean=float(np.mean(alone[page])) if alone[page] else None,
                   cpu_ms_p50=percentile(alone[page], 50))
    return out


# --- through nginx, in front of several replicas (minsheng/replicas.py) -------------------------------------

def request(port: int, method: str, path: str, headers: dict | None = None, body: bytes = b""):
    """(status, headers as lower-case pairs, body) of one request to 127.0.0.1:`port`, no redirect followed."""
    import http.client

    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, body=body or None, headers={"Host": f"127.0.0.1:{port}", **(headers or {})})
        r = c.getresponse()
        return r.status, [(k.lower(), v) for k, v in r.getheaders()], r.read()
    finally:
        c.close()


def set_cookies(headers) -> dict[str, str]:
    from http import cookies as http_cookies

    jar = http_cookies.SimpleCookie()
    for k, v in headers:
        if k == "set-cookie":
            jar.load(v)
    return {k: m.value for k, m in jar.items()}


def cookie_header(jar: dict) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def sign_in(port: int, name: str, password: str, origin: str) -> tuple[int, dict]:
    """Post the sign-in form (minsheng/web.py) as a browser whose page has `origin`; (status, cookies it was given)."""
    import re

    status, headers, body = request(port, "GET", "/signin?next=%2F")
    if status != 200:
        raise RuntimeError(f"登录页返回 {status}")
    jar = set_cookies(headers)
    csrf = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
    form = urlencode({"csrf": csrf, "next": "/", "name": name, "password": password}).encode()
    status, headers, _ = request(port, "POST", "/signin", {
        "Cookie": cookie_header(jar), "Origin": origin, "Content-Type": "application/x-www-form-urlencoded"}, form)
    return status, {**jar, **set_cookies(headers)}


def _area(directory: Path, scopes: dict) -> str:
    """The benchmark user's area: the top region above most of the regions the sessions pick from (the province on
    synthetic data); the sessions then pick only within it, as a user of that area would."""
    from minsheng import repo
    from minsheng.regions import Tree

    tree = Tree(repo.regions(directory))
    tops = [tree.path(c)[0] for c in scopes["regions"]]
    area = max(sorted(set(tops)), key=tops.count)
    scopes["regions"] = [c for c, top in zip(scopes["regions"], tops) if top == area]
    return area


def run_replicas(directory: Path, n: int, duration: float, counts: tuple[int, ...] = (1, 2)) -> list[dict]:
    """The same sessions through nginx in front of each number of replicas in `counts`, one after the other in
    one run, signed in as one admin (sign-in is on: nginx is a proxy); a row per count with page runs per second."""
    import secrets

    from minsheng import auth, replicas, sessions as signins

    directory = Path(directory).resolve()
    scopes, rows = session_scopes(directory), []
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        env = {"MINSHENG_DATA": str(directory), "MINSHENG_USERS": f"{tmp}/users.json", "MINSHENG_AUDIT": f"{tmp}/audit.log"}
        password, saved = secrets.token_urlsafe(18), {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            auth.add_user("bench", "admin", _area(directory, scopes), password)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k)
                else:
                    os.environ[k] = v
        for count in counts:
            d, tally = replicas.Deployment(replicas=count, env=env, workdir=Path(tmp) / f"r{count}").start(), _Tally()
            try:
                status, jar = sign_in(d.port, "bench", password, d.url)
                if signins.COOKIE not in jar:
                    raise RuntimeError(f"经 nginx 登录失败（{status}）")
                # each session a browser of its own routing cookie, as nginx would have given it
                timing = _drive(d.port, n, duration, scopes, tally, lambda i: {
                    "Origin": d.url, "Cookie": f"{signins.COOKIE}={jar[signins.COOKIE]}; {replicas.ROUTE_COOKIE}=bench{i}"})
                rss = [peak_rss_mb(p.pid) for p in d.procs[:count]]
                tally.errors += [f"副本 {i + 1} 已退出" for i, p in enumerate(d.procs[:count]) if p.poll() is not None]
            finally:
                d.stop()
            row = tally.summary(scopes, replicas=count, **timing, peak_rss_mb=sum(x or 0 for x in rss))
            row["runs_per_s"] = row["runs"] / row["wall_s"]
            row["runs_per_s_per_core"] = row["runs_per_s"] / len(os.sched_getaffinity(0))
            rows.append(row)
    return rows
