"""Run the parse of one upload in its own process, under a memory, CPU and wall-clock limit.

The readers bound what a file may expand to before and while reading it; this is the second
wall, for whatever a crafted file finds that they do not foresee. Parsing in the server's own
threads also holds the GIL: one 100-second parse made twenty other users' pages ten times slower.
In a child process it costs the others nothing but a CPU core, and at most `SANDBOX_PARALLEL`
such children run at once.

The children come from a zygote: a fresh, single-threaded interpreter started once (the first
time something is parsed) with the readers already imported, which forks one child per upload.
Forking the Streamlit server itself would copy a process whose threads hold locks; spawning a
new interpreter per upload costs about a second (the test suite reads hundreds of files);
a fork of the zygote costs a few milliseconds, and every upload still gets a process of its own
that dies when it is done. multiprocessing's fork server would do the same but re-runs the main
module in each child — under Streamlit that is the page script itself.

The zygote is handed one end of a socket pair per call (SCM_RIGHTS); request and result travel
over it as length-prefixed pickles. It exits when the server closes its control socket.
"""

from __future__ import annotations

import gc
import importlib
import os
import pickle
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from minsheng.ingest import limits

# what reading needs, imported once in the zygote so each child starts with it
_PRELOAD = ("minsheng.ingest.readers", "minsheng.ingest.geo", "openpyxl", "python_calamine", "pyarrow.parquet",
            "pyarrow.compute")
_SLOTS = threading.BoundedSemaphore(limits.SANDBOX_PARALLEL)
_LOCK = threading.Lock()
_zygote: tuple[subprocess.Popen, socket.socket] | None = None
_LENGTH = struct.Struct("!Q")

MEMORY_OR_TIME = ("文件解析超出内存/时间限制（{memory} GB 内存、{seconds} 秒）：文件可能过大或内容结构异常，"
                  "已停止读取。请检查文件，或拆分后再导入")


class Refused(Exception):
    """The parse did not finish within its limits, or failed; the message is for the user."""


def _message() -> str:
    return MEMORY_OR_TIME.format(memory=limits.SANDBOX_MEMORY // 1024 ** 3, seconds=limits.SANDBOX_CPU_SECONDS)


# ---- the server's side ------------------------------------------------------------------------

def run(func, *args, **kwargs):
    """func(*args, **kwargs) in a bounded child process; its result, or Refused with a Chinese
    message when the child ran out of memory or time, died, or raised. func, its arguments and
    its result must pickle (func by reference: a module-level function)."""
    if not _SLOTS.acquire(timeout=limits.SANDBOX_WALL_SECONDS):
        raise Refused("服务器正忙：同时在解析的文件过多，请稍后重试")
    try:
        return _run(func, args, kwargs)
    finally:
        _SLOTS.release()


def _run(func, args, kwargs):
    mine, theirs = socket.socketpair()
    try:
        try:
            _hand_over(theirs)
        finally:
            theirs.close()
        deadline = time.monotonic() + limits.SANDBOX_WALL_SECONDS
        pid = None
        try:
            _send(mine, (func, args, kwargs))
            pid = _receive(mine, deadline)
            status, value = _receive(mine, deadline)
        except (TimeoutError, EOFError, OSError):   # out of time, or killed (SIGXCPU, SIGALRM, the kernel)
            _kill(pid)
            raise Refused(_message()) from None
    finally:
        mine.close()
    if status == "ok":
        return value
    if status == "limit":
        raise Refused(_message())
    raise Refused(f"无法读取该文件（{value}）。请确认文件完整、格式正确；如仍有问题，请联系管理员")


def _kill(pid: int | None) -> None:
    """End a child the server has given up on (it would otherwise run on to its own limits)."""
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _hand_over(sock: socket.socket) -> None:
    """Give the zygote one end of a fresh socket pair: it forks a child that serves it."""
    global _zygote
    with _LOCK:
        for _ in range(2):   # a zygote that died (killed by an operator) is started again once
            try:
                if _zygote is None or _zygote[0].poll() is not None:
                    _zygote = _start()
                socket.send_fds(_zygote[1], [b"c"], [sock.fileno()])
                return
            except OSError:
                _zygote = None
    raise Refused("无法启动文件解析进程，请联系管理员")


def _start() -> tuple[subprocess.Popen, socket.socket]:
    ours, its = socket.socketpair()
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]),
           # Arrow's default allocator reserves a gigabyte of address space at first use: under
           # RLIMIT_AS that reservation alone would take half a child's budget
           "ARROW_DEFAULT_MEMORY_POOL": "system"}
    proc = subprocess.Popen([sys.executable, "-c", f"from minsheng.ingest.sandbox import serve; serve({its.fileno()})"],
                            pass_fds=[its.fileno()], env=env, stdin=subprocess.DEVNULL)
    its.close()
    return proc, ours


# ---- the zygote and its children --------------------------------------------------------------

def serve(fd: int) -> None:
    """The zygote's loop: for each socket handed over, fork a child to serve it; stop when the
    server's end of the control socket closes."""
    control = socket.socket(fileno=fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C on the server: it closes us itself
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the kernel
    for name in _PRELOAD:
        importlib.import_module(name)
    gc.freeze()   # the zygote's objects are never collected in a child: their pages stay shared
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1, 1)
        except OSError:
            return
        if not message:
            return
        for fd_ in fds:
            if os.fork() == 0:
                control.close()
                _child(socket.socket(fileno=fd_))
            os.close(fd_)


def _child(conn: socket.socket) -> None:
    """Never returns: set the limits, run the request, send the outcome, exit."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _lower(resource.RLIMIT_AS, limits.SANDBOX_MEMORY)
        _lower(resource.RLIMIT_CPU, limits.SANDBOX_CPU_SECONDS)
        signal.alarm(limits.SANDBOX_WALL_SECONDS)   # SIGALRM's default action ends the process
        _send(conn, os.getpid())                      # so the server can end it sooner
        try:
            func, args, kwargs = _receive(conn)
            outcome = ("ok", func(*args, **kwargs))
        except MemoryError:
            outcome = ("limit", None)
        except Exception as e:  # a reader bug or a file no check foresaw: the user sees no traceback
            traceback.print_exc(file=sys.stderr)   # the server's log, for the operator
            outcome = ("error", type(e).__name__)
        try:
            _send(conn, outcome)
        except MemoryError:
            _send(conn, ("limit", None))
    finally:
        os._exit(0)


def _lower(which: int, value: int) -> None:
    """Set a limit no higher than the one inherited (an unprivileged process cannot raise it)."""
    _, hard = resource.getrlimit(which)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(which, (value, value))


# ---- framing ----------------------------------------------------------------------------------

def _send(sock: socket.socket, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LENGTH.pack(len(data)))
    sock.sendall(data)


def _receive(sock: socket.socket, deadline: float | None = None):
    (size,) = _LENGTH.unpack(_read(sock, _LENGTH.size, deadline))
    return pickle.loads(_read(sock, size, deadline))


def _read(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                raise TimeoutError
        n = sock.recv_into(view[got:])
        if not n:
            raise EOFError
        got += n
    return buf
