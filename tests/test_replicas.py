"""Two replicas of the app behind nginx on loopback (minsheng/replicas.py, deploy/minsheng.conf.template): signing
in through nginx, one session valid on both replicas, the routing cookie pinning a browser's websocket and uploads
to one replica, and a file imported on replica A's 导入 page drawn by a session on replica B. Skips when nginx is
not installed (`make test-deps` installs nginx-light)."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from urllib.parse import urlencode

import pytest

from bench import sessions as bench_sessions
from bench.sessions import cookie_header, request, set_cookies
from conftest import ROOT
from minsheng import replicas, sessions, store

pytestmark = pytest.mark.browser  # real servers, as the browser tests: not in `make test-fast`

PW = "Kennwort-2026"
IND, CITY = "mz_dibao_std_rural", "430200000000"   # 株洲市's 农村低保标准: 7,820 for 2025 in the bundled data
NEW_VALUE = 7777
TREND = f"trend?{urlencode({'inds': IND, 'region': CITY, 'kids': '0'})}"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    if replicas.nginx() is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; `make test-deps` does)")
    from argon2 import PasswordHasher

    from minsheng import auth

    tmp = tmp_path_factory.mktemp("replicas")
    data = tmp / "data"
    shutil.copytree(ROOT / "data", data)
    env = {"MINSHENG_DATA": str(data), "MINSHENG_USERS": str(tmp / "users.json"), "MINSHENG_AUDIT": str(tmp / "audit.log")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))  # its hash says so
        auth.add_user("admin01", "admin", CITY, PW)
    d = replicas.Deployment(replicas=2, env=env, workdir=tmp).start()
    d.data = data
    yield d
    d.stop()


def sign_in(port: int, origin: str) -> tuple[int, dict]:
    return bench_sessions.sign_in(port, "admin01", PW, origin)


@pytest.fixture(scope="module")
def signed_in(deployment):
    status, jar = sign_in(deployment.port, deployment.url)
    assert status == 303 and jar.get(sessions.COOKIE), (status, jar)
    return jar[sessions.COOKIE]


def replica_of(d, route: str) -> int:
    """The replica port nginx sends a browser with this routing cookie to, read from nginx's access log."""
    request(d.port, "GET", f"/_stcore/health?probe={route}", {"Cookie": f"{replicas.ROUTE_COOKIE}={route}"})
    deadline = time.monotonic() + 10  # nginx writes the line as it finalises the request, after the reply
    while not (lines := [x for x in d.access_log() if f"probe={route} " in x]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lines, f"nginx 访问日志中没有 probe={route}"
    return int(re.search(r"127\.0\.0\.1:(\d+) route=", lines[-1]).group(1))


def test_sign_in_through_nginx_and_the_session_holds_on_every_replica(deployment, signed_in):
    d = deployment
    status, headers, _ = request(d.port, "GET", "/")
    h = dict(headers)
    assert status == 303 and h["location"].startswith("/signin?next=%2F")
    # the app's security headers come through nginx unchanged; nginx adds the routing cookie
    assert "frame-ancestors 'none'" in h["content-security-policy"] and h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer" and h["x-content-type-options"] == "nosniff"
    route = set_cookies(headers)[replicas.ROUTE_COOKIE]
    assert re.fullmatch(r"[0-9a-f]{32}", route) and "HttpOnly" in h["set-cookie"]
    # a browser that has one is not given another
    _, again, _ = request(d.port, "GET", "/", {"Cookie": f"{replicas.ROUTE_COOKIE}={route}"})
    assert replicas.ROUTE_COOKIE not in set_cookies(again)

    # a sign-in form posted from another site is refused through nginx as it is directly
    status, jar = sign_in(d.port, "http://evil.example")
    assert status == 403 and sessions.COOKIE not in jar

    # the session made on whichever replica took the post opens the page on each replica directly
    for port in d.ports:
        status, _, body = request(port, "GET", "/", {"Cookie": f"{sessions.COOKIE}={signed_in}"})
        assert status == 200 and b"<noscript>" in body, (port, status, body[:200])
        status, _, _ = request(port, "GET", "/")
        assert status == 303


async def _open(d, jar: dict, origin: str):
    import websockets

    return await websockets.connect(
        f"ws://127.0.0.1:{d.port}/_stcore/stream", subprotocols=["streamlit"], max_size=None, open_timeout=30,
        additional_headers={"Cookie": cookie_header(jar), "Origin": origin})


async def _run(ws, page_and_query: str, widgets=()) -> tuple[str, list]:
    """Run a page in the session; (its Streamlit session id, the elements it drew)."""
    page, _, query = page_and_query.partition("?")
    msgs = await bench_sessions.run_page(ws, page, query, widgets)
    session_id = next((m.new_session.initialize.session_id for m in msgs if m.WhichOneof("type") == "new_session"), "")
    problems = [x for m in msgs for x in bench_sessions.problems(m, page)]
    assert not problems, problems
    return session_id, [m.delta.new_element for m in msgs
                        if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element"]


def _of(elements, kind: str) -> list:
    return [getattr(e, kind) for e in elements if e.WhichOneof("type") == kind]


def _upload(d, jar: dict, session_id: str, file_id: str, content: bytes) -> int:
    """PUT a file into a Streamlit session's uploads through nginx, as the browser's file uploader does."""
    boundary = "minsheng-replica-test"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"new.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    status, _, _ = request(d.port, "PUT", f"/_stcore/upload_file/{session_id}/{file_id}", {
        "Cookie": cookie_header(jar), "X-Xsrftoken": jar["_streamlit_xsrf"], "Origin": d.url,
        "Content-Type": f"multipart/form-data; boundary={boundary}"}, body)
    return status


def _points(elements) -> dict[str, float]:
    """Year → value of every line the page's Plotly charts draw (Plotly sends arrays as base64 binary)."""
    import base64
    import json

    import numpy as np

    out = {}
    for chart in _of(elements, "plotly_chart"):
        for trace in json.loads(chart.spec)["data"]:
            y = trace["y"]
            ys = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) else y
            out.update({x[:4]: float(v) for x, v in zip(trace["x"], ys)})
    return out


def test_the_route_pins_websocket_and_upload_and_an_import_on_a_shows_on_b(deployment, signed_in):
    d = deployment
    a, b = d.ports
    routes = {}
    for k in range(64):  # routing cookies that nginx sends to each replica
        routes.setdefault(replica_of(d, f"r{k:02d}"), f"r{k:02d}")
        if len(routes) == 2:
            break
    assert set(routes) == {a, b}, f"64 routing cookies all went to one replica: {routes}"

    def browser(port):  # a browser pinned to `port`: the page, then the health check that sets Streamlit's XSRF cookie
        jar = {sessions.COOKIE: signed_in, replicas.ROUTE_COOKIE: routes[port]}
        assert request(d.port, "GET", "/", {"Cookie": cookie_header(jar)})[0] == 200
        status, headers, _ = request(d.port, "GET", "/_stcore/health", {"Cookie": cookie_header(jar)})
        assert status == 200
        return {**jar, **set_cookies(headers)}

    on_b, on_a = browser(b), browser(a)

    content = f"指标编码,区划代码,时期,数值\n{IND},{CITY},2025,{NEW_VALUE}\n".encode()

    async def scenario():
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        ws_b, ws_a = await _open(d, on_b, d.url), await _open(d, on_a, d.url)
        try:
            _, before = await _run(ws_b, TREND)
            assert _points(before)["2025"] == 7820 and _points(before)["2024"] == 7241
            # the admin opens 导入 on replica A and picks the file: the upload reaches the replica of the session;
            # the same upload routed to replica B finds no such session there
            session_a, page = await _run(ws_a, "import")
            uploader = next(u for u in _of(page, "file_uploader") if u.id.endswith("imp_file"))
            assert _upload(d, on_b, session_a, "f1", content) == 400
            assert _upload(d, on_a, session_a, "f1", content) == 204
            picked = WidgetState(id=uploader.id)
            picked.file_uploader_state_value.uploaded_file_info.add(name="new.csv", size=len(content), file_id="f1")
            _, preview = await _run(ws_a, "import", [picked])
            commit = next(x for x in _of(preview, "button") if x.id.endswith("imp_commit"))
            assert not commit.disabled and [m.body for m in _of(preview, "metric")][:2] == ["0", "1"]  # 新增 0, 修改 1
            # … and commits it: a new version in the shared data directory, under the store's lock
            await _run(ws_a, "import", [picked, WidgetState(id=commit.id, trigger_value=True)])
            newest = store.history(d.data)[0]
            assert (newest["file_name"], newest["user"]) == ("new.csv", "admin01"), newest
            # … which the session on replica B draws on its next run
            _, after = await _run(ws_b, TREND)
            assert _points(after)["2025"] == NEW_VALUE and _points(after)["2024"] == 7241
        finally:
            await ws_a.close()
            await ws_b.close()
        # a websocket opened by a page of another origin is still refused before Streamlit sees it
        import websockets

        with pytest.raises(websockets.InvalidStatus) as refused:
            await _open(d, on_b, "http://evil.example")
        assert refused.value.response.status_code == 403

    asyncio.run(scenario())

    def pinned(port, route, served) -> bool:
        return any("/_stcore/stream" in x and f":{port} route={route}" in x for x in served)

    deadline = time.monotonic() + 10  # a websocket's line is written once nginx has closed it
    while not all(pinned(p, r, served := d.access_log()) for p, r in routes.items()) and time.monotonic() < deadline:
        time.sleep(0.05)
    for port, route in routes.items():  # each websocket was served by the replica its route names
        assert pinned(port, route, served), served[-10:]
