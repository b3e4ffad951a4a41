"""预警: conditions in the data that someone must be told of (a task falling behind, a return missing at its
deadline, a figure out of line), each an `Alert` with a stable key so it is told once and escalated, not repeated."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

LEVELS = ("严重", "关注")  # worst first


@dataclass(frozen=True)
class Alert:
    """One condition found in the data. Plain text only: every channel escapes it for its own markup."""
    rule: str                   # "task_lag", "return_missing", "outlier", "children_sum", or "rule:<id>" (configured)
    key: str                    # the same condition on the same subject and period gives the same key, run after run
    level: str                  # one of LEVELS
    region_code: str
    title: str                  # short, e.g. "开展就业技能培训 严重滞后"
    text: str                   # one or two sentences with the figures and their units
    department: str | None = None
    indicator_id: str | None = None
    period: dt.date | None = None
    owner: str | None = None    # 责任人 named in the task's latest progress note, where there is one
