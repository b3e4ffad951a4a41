"""Support for the headless-Chromium tests (tests/test_browser.py).

- `StreamlitServer`: runs `python -m streamlit run <script>` on a free port bound to 127.0.0.1,
  waits for `/_stcore/health`, and stops it (terminate, then kill) afterwards.
- session fixtures: `chromium_path`, `app_server` (the dashboard), `blank_server` (a one-line
  Streamlit app, the timing baseline) and `browser` (one Chromium per test module).
- helpers that wait for the app to be idle and record every network request of a page.

Every fixture skips (with a reason) when Chromium or the Playwright package is missing.
The tests never reach the internet: Chromium resolves every host except 127.0.0.1/localhost
to NOTFOUND, and the servers are bound to 127.0.0.1 with usage statistics off.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP_SCRIPT = ROOT / "app.py"  # st.App: the sign-in routes and headers in front of dashboard.py
ARTIFACTS = ROOT / "artifacts"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
LOCAL_SCHEMES = {"data", "blob", "about"}

# The app is idle: the script finished (not "initial", "running" or "rerunRequested") and the
# status widget shows no running indicator. A "file changed, rerun?" prompt (someone editing the
# pages while the tests run) does not count as busy.
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return false;
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]')) return false;
  return true;
}"""

BLANK_APP = 'import streamlit as st\n\nst.write("ok")\n'


def find_chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


class StreamlitServer:
    """One `streamlit run` process; `url` is its base URL once `start()` returned."""

    def __init__(self, script: Path, cwd: Path, name: str, env: dict | None = None):
        self.script, self.cwd, self.name, self.extra_env = script, cwd, name, env or {}
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(tempfile.gettempdir()) / f"browser-tests-{name}-{os.getpid()}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def start(self, timeout: float = 60.0) -> "StreamlitServer":
        env = dict(os.environ)
        env.pop("MINSHENG_DATA", None)  # always the bundled demo data: the tests check its names and codes
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)  # e.g. a users file of the test's own (the default is an empty one)
        last_error = ""
        for _attempt in range(3):  # a port picked by free_port() can be taken before streamlit binds it
            self.port = free_port()
            cmd = [sys.executable, "-m", "streamlit", "run", str(self.script),
                   "--server.headless", "true", "--server.address", "127.0.0.1",
                   "--server.port", str(self.port), "--browser.gatherUsageStats", "false",
                   "--server.runOnSave", "false"]
            log = open(self.log_path, "w")
            self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            log.close()
            try:
                self._wait_healthy(timeout)
                return self
            except RuntimeError as e:
                last_error = str(e)
                self.stop()
                if "already in use" not in last_error:
                    break
        raise RuntimeError(last_error)

    def _wait_healthy(self, timeout: float) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit ({self.name}) exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with opener.open(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"streamlit ({self.name}) not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@dataclass
class Requests:
    """Every URL a page asked for (documents, scripts, fetches, images, websockets)."""

    urls: list[str] = field(default_factory=list)

    def attach(self, page) -> "Requests":
        page.on("request", lambda r: self.urls.append(r.url))
        page.on("websocket", lambda ws: self.urls.append(ws.url))
        return self

    def external(self) -> list[str]:
        return sorted({u for u in self.urls if not is_local(u)})


def sign_in_form(page, server, name: str, password: str) -> None:
    """Sign in through the real /signin form and wait for the app's first page to be drawn."""
    page.goto(f"{server.url}/signin")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    wait_idle(page)


def wait_idle(page, timeout_ms: float = 60_000, settle_ms: int = 400) -> None:
    """Wait until the script run is over and stays over for `settle_ms` (a rerun may follow)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        left = max(1.0, (deadline - time.monotonic()) * 1000)
        page.wait_for_function(IDLE_JS, timeout=left, polling=50)
        page.wait_for_timeout(settle_ms)
        if page.evaluate(IDLE_JS):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not become idle")


# ---------------------------------------------------------------------------------------------
# fixtures (made available to every test module by tests/conftest.py)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if not path:
        pytest.skip("Chromium not found (/usr/bin/chromium or `chromium` on PATH): "
                    "apt-get install chromium fonts-noto-cjk")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed")
    return path


@pytest.fixture(scope="session")
def app_server(chromium_path):
    server = StreamlitServer(APP_SCRIPT, ROOT, "app").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def blank_server(chromium_path, tmp_path_factory):
    script = tmp_path_factory.mktemp("blank_app") / "blank.py"
    script.write_text(BLANK_APP, encoding="utf-8")
    # same working directory as the app, so it gets the same .streamlit/config.toml (theme, toolbar)
    server = StreamlitServer(script, ROOT, "blank").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")  # not longer: while Playwright runs, its event loop is this thread's, and
def browser(chromium_path):       # other modules' asyncio.run() (the benchmark's sessions) would fail
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def new_page(browser, width: int = 1600, height: int = 1000, **context_options):
    """A page in a fresh context (own cookies, cache and session), with its request log."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                              timezone_id="Asia/Shanghai", **context_options)
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    return ctx, page, Requests().attach(page)


# ---------------------------------------------------------------------------------------------
# PNG pixels: Pillow when it is there, else a small stdlib decoder (8-bit, non-interlaced)


def png_colours(data: bytes) -> dict[tuple, int]:
    """Pixel colour -> count for a PNG screenshot."""
    try:
        from PIL import Image
    except ImportError:
        return _png_colours_stdlib(data)
    import io

    img = Image.open(io.BytesIO(data)).convert("RGB")
    return {colour: n for n, colour in img.getcolors(maxcolors=img.width * img.height)}


def _png_colours_stdlib(data: bytes) -> dict[tuple, int]:
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and interlace == 0 and colour_type in (2, 6), "unsupported PNG"
            bpp = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    counts: dict[tuple, int] = {}
    i = 0
    for _ in range(height):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        for x in range(0, stride, bpp):
            key = tuple(line[x:x + 3])
            counts[key] = counts.get(key, 0) + 1
        prev = line
    return counts
