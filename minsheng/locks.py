"""Waiting for an exclusive file lock with a deadline (shared by the data store and the users file)."""

from __future__ import annotations

import fcntl
import time


def acquire(fd: int, timeout: float, busy: Exception, poll: float = 0.05) -> None:
    """flock(fd) exclusively, polling until `timeout` seconds have passed; then raise `busy`.

    flock, unlike a lock file's mere existence, is released by the kernel when its holder dies,
    so a killed process never leaves the lock behind.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise busy from None
            time.sleep(poll)
