"""Run the parse of one upload in its own process, under a memory, CPU and wall-clock limit.

The readers bound what a file may expand to before and while reading it; this is the second
wall, for whatever a crafted file finds that they do not foresee. Parsing in the server's own
threads also holds the GIL: one 100-second parse made twenty other users' pages ten times slower.
In a child process it costs the others nothing but a CPU core, and at most `SANDBOX_PARALLEL`
such children run at once.

The children come from a fork server (multiprocessing's 'forkserver' context): a fresh, single-
threaded interpreter started once, with the readers already imported, that forks one child per
upload. Forking the Streamlit server itself would copy a process with threads holding locks;
spawning a new interpreter per upload would cost about a second (the test suite imports hundreds
of files); a fork of the fork server costs a few milliseconds and every upload still gets a
process of its own, killed and forgotten when it is done.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import resource
import sys
import threading
import traceback
from multiprocessing.connection import wait

from minsheng.ingest import limits

_CONTEXT = multiprocessing.get_context("forkserver")
# imported once in the fork server, so each child starts with them; '__main__' too (a guarded
# script such as streamlit's), or every child would import the main script again
_CONTEXT.set_forkserver_preload(["__main__", "minsheng.ingest.readers", "minsheng.ingest.geo", "openpyxl",
                                 "python_calamine", "pyarrow.parquet", "pyarrow.compute"])
_SLOTS = threading.BoundedSemaphore(limits.SANDBOX_PARALLEL)
# Arrow's default allocator (mimalloc) reserves a gigabyte of address space at its first use;
# under RLIMIT_AS that reservation alone would use half the budget. The fork server inherits this
# environment when it starts; this process's Arrow chose its allocator when pandas imported it.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

MEMORY_OR_TIME = ("文件解析超出内存/时间限制（{memory} GB 内存、{seconds} 秒）：文件可能过大或内容结构异常，"
                  "已停止读取。请检查文件，或拆分后再导入")


class Refused(Exception):
    """The parse did not finish within its limits, or failed; the message is for the user."""


def _message() -> str:
    return MEMORY_OR_TIME.format(memory=limits.SANDBOX_MEMORY // 1024 ** 3, seconds=limits.SANDBOX_CPU_SECONDS)


def _lower(which: int, value: int) -> None:
    """Set a limit no higher than the one inherited (an unprivileged process cannot raise it)."""
    soft, hard = resource.getrlimit(which)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))


def _child(conn, func, args, kwargs) -> None:
    gc.freeze()   # the fork server's objects are never collected here: their pages stay shared
    _lower(resource.RLIMIT_AS, limits.SANDBOX_MEMORY)
    _lower(resource.RLIMIT_CPU, limits.SANDBOX_CPU_SECONDS)
    try:
        outcome = ("ok", func(*args, **kwargs))
    except MemoryError:
        outcome = ("limit", None)
    except Exception as e:  # a reader bug or a file no check foresaw: the user sees no traceback
        traceback.print_exc(file=sys.stderr)   # the server's log, for the operator
        outcome = ("error", type(e).__name__)
    try:
        conn.send(outcome)
    except MemoryError:
        conn.send(("limit", None))
    conn.close()


def run(func, *args, **kwargs):
    """func(*args, **kwargs) in a bounded child process; its result, or Refused with a Chinese
    message when the child ran out of memory or time, died, or raised. func and its arguments
    and result must pickle (func by reference: a module-level function)."""
    if not _SLOTS.acquire(timeout=limits.SANDBOX_WALL_SECONDS):
        raise Refused("服务器正忙：同时在解析的文件过多，请稍后重试")
    try:
        return _run(func, args, kwargs)
    finally:
        _SLOTS.release()


def _run(func, args, kwargs):
    receive, send = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child, args=(send, func, args, kwargs), daemon=True)
    child.start()
    send.close()   # only the child holds the sending end: its death reads as end-of-file here
    try:
        if receive not in wait([receive, child.sentinel], timeout=limits.SANDBOX_WALL_SECONDS) and not receive.poll():
            raise Refused(_message())
        try:
            status, value = receive.recv()
        except (EOFError, OSError):   # killed: SIGXCPU at the CPU limit, SIGKILL by the kernel
            raise Refused(_message()) from None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if status == "ok":
        return value
    if status == "limit":
        raise Refused(_message())
    raise Refused(f"无法读取该文件（{value}）。请确认文件完整、格式正确；如仍有问题，请联系管理员")

