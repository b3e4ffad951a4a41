"""The subdivision × task matrix of 目标: each subdivision's 完成率 against its 序时进度, task by task.

Each subdivision is judged by `metrics.goal_table` on its own targets and its own figures — the
arithmetic of the task table, per region — so a cell and the region's own 目标 page agree.
"""

from __future__ import annotations

import pandas as pd

from minsheng import metrics

NO_TASK, NOT_REPORTED = "无任务", "未报"  # the grey cells: no target set there, or a target and no figure
COLUMNS = ["region_code", "indicator_id", "target", "actual", "completion", "elapsed", "gap", "status",
           "reported_to", "cell"]


def goal_matrix(tasks: pd.DataFrame, targets: pd.DataFrame, actuals: pd.DataFrame, regions: list[str],
                kinds: dict[str, str], year: int, month: int, severe_gap: float = metrics.SEVERE_GAP,
                frequency: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per (region, task) for `regions` (rows, in order) × `tasks` (columns: indicator_id, in
    order): the region's goal-table figures for the task, and `cell` — its status, or 无任务 where the
    region has no target for it, 未报 where it has one and no figure up to `month`.

    `targets` are the regions' targets (a region_code column), `actuals` their series (region_code)."""
    rows = []
    for code in regions:
        t = targets[targets["region_code"] == code]
        a = actuals[actuals["region_code"] == code] if not actuals.empty else actuals
        g = {r["indicator_id"]: r for r in metrics.goal_table(t, a, kinds, year, month, severe_gap, frequency)
             .to_dict("records")}
        for ind in tasks["indicator_id"]:
            if ind not in g:
                rows.append(dict(region_code=code, indicator_id=ind, cell=NO_TASK))
                continue
            r = g[ind]
            rows.append(dict(region_code=code, indicator_id=ind, target=r["target"], actual=r["actual"],
                             completion=r["completion"], elapsed=r["elapsed"], gap=r["gap"], status=r["status"],
                             reported_to=r["reported_to"], cell=r["status"] if isinstance(r["status"], str) else NOT_REPORTED))
    return pd.DataFrame(rows, columns=COLUMNS)


def has_targets(m: pd.DataFrame) -> bool:
    """Whether any subdivision has a target among the matrix's tasks (else there is nothing to compare)."""
    return bool((m["cell"] != NO_TASK).any()) if not m.empty else False
