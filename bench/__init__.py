"""The benchmark, an application beside the package: the pages' queries timed through
minsheng.repo against the pandas reference, whole page runs, and users at once on a real server.

    plan.py      what to ask: the pages' queries on regions and indicators that have data
    run.py       our side timed in this process, the workers spawned, the answers compared
    baseline.py  worker: the same queries answered by minsheng.reference, and whether that fits in memory
    pages.py     worker: page runs timed with AppTest
    sessions.py  a `streamlit run` server and websocket sessions speaking the browser's protocol
    report.py    the plain-text report
    cli.py       the `bench` command, reached from `python -m minsheng`

Workers are separate processes (`python -m bench.<module> PLAN OUT`, from the project root), so
each side's peak RSS is its own.
"""

from __future__ import annotations

import resource

import numpy as np


def peak_rss_mb() -> float:
    """This process's resident-set high-water mark so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def percentile(xs: list[float], pct: float) -> float:
    """The pct-th percentile of timings in ms; NaN when there are none."""
    return float(np.percentile(xs, pct)) if xs else float("nan")
