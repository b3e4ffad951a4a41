"""More than one server: N app processes (app.py through Streamlit, each on its own loopback port) behind nginx.

    python -m minsheng serve --replicas 3 --port 8080            replicas and nginx, until Ctrl+C / SIGTERM
    python -m minsheng serve --replicas 3 --print-config          the nginx site for the system nginx

All replicas read one data directory (MINSHENG_DATA) and one users file (MINSHENG_USERS) with its sign-in
sessions beside it, so a session cookie from one replica is valid on every other; a commit takes the store's
flock, so one writer at a time across processes, and readers never wait. nginx routes each browser to one
replica by its routing cookie (deploy/minsheng.conf.template says how and why). The nginx started here runs
in the foreground as the user who started it, with its own prefix, pid, logs and temp folders.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "minsheng.conf.template"
ROUTE_COOKIE = "ms_route"
FRAMING_MB = 1   # multipart headers around an uploaded file, above Streamlit's maxUploadSize

# The nginx.conf around the site when this module runs nginx itself: foreground, files under `prefix`, an
# access log naming the replica that answered (the test reads it; operators like it too).
MAIN = """worker_processes @WORKERS@;
daemon off;
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/error.log warn;
@USER@
events { worker_connections 1024; }
http {
    log_format minsheng '$remote_addr [$time_local] "$request" $status $upstream_addr route=$cookie_ms_route';
    access_log @PREFIX@/access.log minsheng;
    client_body_temp_path @PREFIX@/temp/body;
    proxy_temp_path @PREFIX@/temp/proxy;
    fastcgi_temp_path @PREFIX@/temp/fastcgi;
    uwsgi_temp_path @PREFIX@/temp/uwsgi;
    scgi_temp_path @PREFIX@/temp/scgi;
    include @PREFIX@/minsheng.conf;
}
"""


class ServeError(RuntimeError):
    """A replica or nginx did not start (the message says which and shows its log's tail)."""


def nginx() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def max_upload_mb() -> int:
    """Streamlit's server.maxUploadSize as the replicas run it (.streamlit/config.toml beside app.py)."""
    import tomllib

    with open(ROOT / ".streamlit" / "config.toml", "rb") as f:
        return int(tomllib.load(f).get("server", {}).get("maxUploadSize", 200))  # 200: Streamlit's default


def site_config(ports: list[int], listen: str) -> str:
    """The nginx site (deploy/minsheng.conf.template) for replicas on these loopback ports."""
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in ports)
    return (TEMPLATE.read_text(encoding="utf-8").replace("@SERVERS@", servers).replace("@LISTEN@", listen)
            .replace("@BODY@", f"{max_upload_mb() + FRAMING_MB}m"))


def main_config(prefix: Path, workers: int = 1) -> str:
    # As root, nginx would hand its workers to "nobody", who cannot open a private prefix: keep the caller's user.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    return (MAIN.replace("@PREFIX@", str(prefix)).replace("@WORKERS@", str(workers)).replace("@USER@", user))


def _wait(url: str, proc: subprocess.Popen, what: str, log: Path, timeout: float) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServeError(f"{what} 已退出（{proc.returncode}）：{tail(log)}")
        try:
            with opener.open(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise ServeError(f"{what} 未在 {timeout:.0f} 秒内就绪：{tail(log)}")


def tail(log: Path, n: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


@dataclass
class Deployment:
    """`replicas` app processes on loopback ports and one nginx on `port` in front; `start()`, then `stop()`.

    `env` is added to each replica's environment (MINSHENG_DATA, MINSHENG_USERS …); `workdir` holds nginx's
    prefix and every process's log (a temporary folder when not given)."""
    replicas: int = 2
    port: int = 0                       # nginx's; 0: a free one
    host: str = "127.0.0.1"             # the address nginx listens on
    first_port: int = 0                 # the replicas' ports start here; 0: free ones
    env: dict = field(default_factory=dict)
    workdir: Path | None = None
    procs: list = field(default_factory=list)
    ports: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def prefix(self) -> Path:
        return self.workdir / "nginx"

    def start(self, timeout: float = 90.0) -> "Deployment":
        binary = nginx()
        if binary is None:
            raise ServeError("未找到 nginx（Debian：apt-get install nginx-light）")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="minsheng-serve-"))
        for sub in ("temp", "logs"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        self.ports = [self.first_port + i if self.first_port else free_port() for i in range(self.replicas)]
        self.port = self.port or free_port()
        try:
            for i, p in enumerate(self.ports):  # all at once: each spends its first seconds importing
                self.procs.append(self._replica(i, p))
            for i, (p, proc) in enumerate(zip(self.ports, self.procs)):
                _wait(f"http://127.0.0.1:{p}/_stcore/health", proc, f"副本 {i + 1}（端口 {p}）", self._log(i), timeout)
            (self.prefix / "minsheng.conf").write_text(site_config(self.ports, f"{self.host}:{self.port}"),
                                                       encoding="utf-8")
            (self.prefix / "nginx.conf").write_text(main_config(self.prefix), encoding="utf-8")
            log = self.prefix / "error.log"
            self.procs.append(subprocess.Popen(
                [binary, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), "-e", str(log)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
            _wait(f"{self.url}/_stcore/health", self.procs[-1], f"nginx（端口 {self.port}）", log, 20)
        except BaseException:
            self.stop()
            raise
        return self

    def _log(self, i: int) -> Path:
        return self.workdir / f"replica-{i + 1}.log"

    def _replica(self, i: int, port: int) -> subprocess.Popen:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        env.setdefault("MINSHENG_TRUSTED_PROXIES", "127.0.0.1")  # nginx on loopback names the client
        with open(self._log(i), "w") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
                 "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
                 "--server.runOnSave", "false", "--server.fileWatcherType", "none"],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def access_log(self) -> list[str]:
        try:
            return (self.prefix / "access.log").read_text(errors="replace").splitlines()
        except OSError:
            return []

    def stop(self) -> None:
        for proc in reversed(self.procs):  # nginx first: no request reaches a replica that is going
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []


def _serve(args) -> int:
    if args.print_config:
        ports = [args.first_port + i for i in range(args.replicas)]
        print(site_config(ports, f"{args.host}:{args.port}"), end="")
        return 0
    from minsheng import web
    from minsheng.ui import session

    if not web.sign_in_required() and os.environ.get(session.ALLOW_ENV, "").strip() != "1":
        print("注意：还没有用户。单用户模式只接受本机直连的浏览器，经 nginx 打开的页面会拒绝显示；"
              "请先添加用户（python -m minsheng users add …）", file=sys.stderr)
    d = Deployment(replicas=args.replicas, port=args.port, host=args.host, first_port=args.first_port,
                   workdir=Path(args.workdir) if args.workdir else None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # systemd's stop: leave through `finally`
    try:
        d.start()
    except ServeError as e:
        print(f"启动失败：{e}", file=sys.stderr)
        return 2
    print(f"已启动 {args.replicas} 个副本（端口 {'、'.join(map(str, d.ports))}），nginx 在 {d.url}；日志在 {d.workdir}")
    try:
        while all(p.poll() is None for p in d.procs):
            time.sleep(1)
        gone = [i for i, p in enumerate(d.procs) if p.poll() is not None]
        print(f"进程已退出：{'、'.join('nginx' if i == args.replicas else f'副本 {i + 1}' for i in gone)}，全部停止",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        d.stop()


def add_parsers(sub) -> None:
    p = sub.add_parser("serve", help="启动多个应用副本（各占一个本机端口）和前面的 nginx")
    p.add_argument("--replicas", type=int, default=2, help="副本数（默认 2）")
    p.add_argument("--port", type=int, default=8080, help="nginx 监听端口（默认 8080）")
    p.add_argument("--host", default="127.0.0.1", help="nginx 监听地址（默认 127.0.0.1；对外服务用 0.0.0.0）")
    p.add_argument("--first-port", type=int, default=8601, help="副本端口从此开始（默认 8601, 8602, …）")
    p.add_argument("--workdir", help="nginx 配置、临时文件和日志的目录（默认新建临时目录）")
    p.add_argument("--print-config", action="store_true", help="只打印供系统 nginx 使用的站点配置")
    p.set_defaults(func=_serve)
