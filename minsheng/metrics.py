"""The arithmetic by indicator kind: roll-up, 同比/环比, 完成率 against 序时进度, pace needed.

Pure functions over plain numbers and DataFrames, so tests check them against hand-computed
values and the SQL roll-up (queries/series.sql) can be checked against `rollup` here.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd

from minsheng import i18n

KINDS = ("count", "amount", "rate", "standard")
STATUSES = ("严重滞后", "滞后", "超序时", "已完成")  # worst first: the order the goal page sorts by
SEVERE_GAP = 0.15  # 严重滞后: 完成率 more than 15 percentage points behind 序时进度


def _num(x) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def rollup(kind: str, rows: list[dict]) -> dict:
    """Combine child rows into the parent's value the way the indicator's kind demands.

    count/amount: the sum. rate: Σnumerator/Σdenominator in percent (an average of rates would
    weigh a village like a city). standard: never summed; only the children's min and max.
    """
    if kind not in KINDS:
        raise ValueError(f"未知指标类型：{kind}")
    vals = [_num(r.get("value")) for r in rows]
    vals = [v for v in vals if v is not None]
    if kind in ("count", "amount"):
        return {"value": sum(vals) if vals else None}
    if kind == "rate":
        num = sum(_num(r.get("numerator")) or 0 for r in rows)
        den = sum(_num(r.get("denominator")) or 0 for r in rows)
        return {"value": 100 * num / den if den else None, "numerator": num, "denominator": den}
    return {"value": None, "min": min(vals) if vals else None, "max": max(vals) if vals else None}


@dataclass(frozen=True)
class Change:
    value: float
    unit: str  # "%" for relative change, "个百分点" for a difference of rates

    def signed(self, lang: str = "zh") -> str:
        """'+4.0%' or '-0.52 个百分点' (English: pp): the sign first, as st.metric reads it for the arrow."""
        digits = 1 if self.unit == "%" else 2
        return f"{self.value:+.{digits}f}{self.unit if self.unit == '%' else ' ' + i18n.t(self.unit, lang)}"

    def label(self, prefix: str = "同比") -> str:
        return f"{prefix} {self.signed()}"


def change(kind: str, current, previous) -> Change | None:
    """同比 or 环比: relative change in % for counts, amounts and standards; for rates the
    difference in percentage points. None when either side is missing (a gap, not a zero)."""
    cur, prev = _num(current), _num(previous)
    if cur is None or prev is None:
        return None
    if kind == "rate":
        return Change(cur - prev, "个百分点")
    if prev == 0:
        return None
    return Change(100 * (cur - prev) / abs(prev), "%")


def direction(higher_is_better) -> int | None:
    """+1 where a higher value is better, -1 where lower is (失业率), None where the catalogue does
    not say. The flag comes back from the query layer as pandas' nullable boolean, whose values
    are numpy.bool_ — never compare it with `is`."""
    if higher_is_better is None or pd.isna(higher_is_better):
        return None
    return 1 if bool(higher_is_better) else -1


def ranked(table: pd.DataFrame, higher_is_better, column: str = "value") -> pd.DataFrame:
    """The rows best first, as the indicator's direction says (lowest first for 失业率; highest
    first where the catalogue does not say), regions without a value last; with a `rank` column."""
    out = table.sort_values(column, ascending=direction(higher_is_better) == -1, na_position="last", kind="stable")
    return out.assign(rank=range(1, len(out) + 1))


def last_month(latest, year: int) -> int:
    """The last month of `year` with data, given the latest period (or data date) there is:
    its month when that falls in `year`, else 12 (a past year is complete)."""
    if latest is None or pd.isna(latest):
        return 12
    latest = pd.Timestamp(latest)
    return latest.month if latest.year == year else 12


def month_end(year: int, month: int) -> dt.date:
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def elapsed_share(as_of: dt.date, start: dt.date, deadline: dt.date) -> float:
    """序时进度: the share of the task's months that have passed at the end of `as_of`'s month."""
    total = (deadline.year - start.year) * 12 + deadline.month - start.month + 1
    done = (as_of.year - start.year) * 12 + as_of.month - start.month + 1
    return min(1.0, max(0.0, done / total))


def completion(actual, target) -> float | None:
    a, t = _num(actual), _num(target)
    if a is None or not t:
        return None
    return a / t


def gap_points(done: float, elapsed: float) -> float:
    """完成率 minus 序时进度 in percentage points, rounded to the 0.1 the page shows.

    Every status threshold compares this number, so a task shown 15.0 points behind is judged as
    15.0 behind: in floating point 0.5 − 0.35 is 0.15000000000000002, which is "more than 15".
    (+ 0.0 turns a rounded −0.0 into 0.0, so it is shown as +0.0 like the on-time status it gets.)
    """
    return round(100 * (done - elapsed), 1) + 0.0


def status(done: float | None, elapsed: float, severe_gap: float = SEVERE_GAP) -> str | None:
    """已完成 (≥ 100%), 超序时 (≥ 序时进度), 滞后, 严重滞后 (behind by more than `severe_gap`), all
    judged on `gap_points`. 已完成 needs the target itself: 99.96 % still has work left to do."""
    if done is None:
        return None
    if done >= 1:
        return "已完成"
    gap = gap_points(done, elapsed)
    if gap >= 0:
        return "超序时"
    return "严重滞后" if -gap > round(100 * severe_gap, 1) else "滞后"


def pace_needed(target, actual, months_left: int) -> float | None:
    """What must be added each remaining month to reach the target on time."""
    t, a = _num(target), _num(actual)
    if t is None or a is None:
        return None
    if a >= t:
        return 0.0
    if months_left <= 0:
        return None  # past the deadline: no pace can make it
    return (t - a) / months_left


def latest_in_year(df: pd.DataFrame, year: int, month: int = 12) -> pd.DataFrame:
    """For each indicator and region, the row of the last period in `year` up to `month`."""
    d = df[(df["period"].dt.year == year) & (df["period"].dt.month <= month)]
    if d.empty:
        return d
    return d.sort_values("period").groupby(["indicator_id", "region_code"], as_index=False).tail(1)


def year_ago(df: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """For each row in `rows`, the value of the same indicator, region and period a year before.

    For cumulative monthly indicators the rows are year-to-date, so this is YTD against YTD.
    """
    prev = df.assign(period=df["period"] + pd.DateOffset(years=1))
    keyed = prev.set_index(["indicator_id", "region_code", "period"])["value"]
    idx = pd.MultiIndex.from_frame(rows[["indicator_id", "region_code", "period"]])
    return pd.Series(keyed.reindex(idx).to_numpy(), index=rows.index)


def _shift_months(periods: pd.Series, months) -> pd.Series:
    """Each period moved back by `months` (a number, or one per row), as first days of months."""
    m = periods.dt.year.astype("int64") * 12 + periods.dt.month.astype("int64") - 1 - months
    return pd.to_datetime(pd.DataFrame({"year": m // 12, "month": m % 12 + 1, "day": 1})).astype(periods.dtype)


def increments(df: pd.DataFrame, cumulative: dict[str, bool], frequency: dict[str, str]) -> pd.Series:
    """What 环比 compares: for a year-to-date monthly indicator, the month's own increment (January's
    is its year-to-date; any other month's is its year-to-date minus the month before's, empty when
    that month is missing); for every other indicator the value itself.

    Comparing year-to-date totals month on month gives a sawtooth, −92 % every January and then
    +100 %, +50 %, +33 %, which says nothing about the month."""
    ytd = df["indicator_id"].map(lambda i: bool(cumulative.get(i)) and frequency.get(i) == "month").astype(bool)
    if not ytd.any():
        return df["value"]
    keyed = df.set_index(["indicator_id", "region_code", "period"])["value"]
    idx = pd.MultiIndex.from_arrays([df["indicator_id"], df["region_code"], _shift_months(df["period"], 1)])
    before = pd.Series(keyed.reindex(idx).to_numpy(), index=df.index).where(df["period"].dt.month != 1, 0.0)
    return df["value"].where(~ytd, df["value"] - before)


def complete_periods(df: pd.DataFrame, frequency: dict[str, str], grain: str) -> pd.DataFrame:
    """The series with a row, value empty, for every period a region shown did not report, so a
    silent month stays on the axis as a break; `unreported` marks those rows (the chart's 未报).

    Per indicator, the periods run from the first to the last any region shown reported, stepping
    by its frequency (by year in the yearly view): before the first the indicator was not collected,
    and a month after the last may not be due yet (the data date says where the data end). A region
    is 未报 from its own first report on: before that it may not have existed.
    """
    parts = []
    for ind_id, d in df.groupby("indicator_id", sort=False):
        step = 12 if grain == "year" else {"month": 1, "quarter": 3}.get(frequency.get(ind_id), 12)
        periods = pd.date_range(d["period"].min(), d["period"].max(), freq=f"{step}MS").astype(d["period"].dtype)
        grid = pd.MultiIndex.from_product([[ind_id], d["region_code"].unique(), periods],
                                          names=["indicator_id", "region_code", "period"])
        full = d.assign(_seen=True).set_index(["indicator_id", "region_code", "period"]).reindex(grid).reset_index()
        first = full["region_code"].map(d.groupby("region_code")["period"].min())
        parts.append(full.assign(unreported=full["_seen"].isna() & (full["period"] > first)).drop(columns="_seen"))
    return pd.concat(parts, ignore_index=True)[[*df.columns, "unreported"]] if parts else df.assign(unreported=False)


def with_changes(df: pd.DataFrame, kinds: dict[str, str], frequency: dict[str, str],
                 cumulative: dict[str, bool] | None = None) -> pd.DataFrame:
    """Add 同比 and 环比 columns to a long series (one row per indicator, region, period).

    环比 compares with the previous period of the indicator's frequency; a missing previous
    period leaves the change empty rather than comparing with an older one. For year-to-date
    monthly indicators (`cumulative`) it compares the months' increments (see `increments`).
    """
    out = df.sort_values(["indicator_id", "region_code", "period"]).copy()
    out["yoy_base"] = year_ago(out, out)
    step = out["indicator_id"].map(lambda i: {"month": 1, "quarter": 3}.get(frequency.get(i), 12)).astype("int64")
    prev_period = _shift_months(out["period"], step)
    compared = increments(out, cumulative or {}, frequency)
    keyed = out.assign(_c=compared).set_index(["indicator_id", "region_code", "period"])["_c"]
    idx = pd.MultiIndex.from_arrays([out["indicator_id"], out["region_code"], prev_period])
    out["mom_base"] = keyed.reindex(idx).to_numpy()
    out["yoy"] = [None if (c := change(kinds[i], v, b)) is None else c.value
                  for i, v, b in zip(out["indicator_id"], out["value"], out["yoy_base"])]
    out["mom"] = [None if (c := change(kinds[i], v, b)) is None else c.value
                  for i, v, b in zip(out["indicator_id"], compared, out["mom_base"])]
    return out


def reported_to(period, frequency: str | None, month: int) -> int | None:
    """The month a monthly or quarterly figure is as of (a quarter's: its last month), when that is
    before `month`, the month the report is made up to; None when the figure is as of `month` or is
    annual (an annual figure is the year's: it has no month to be late for)."""
    if period is None or pd.isna(period) or frequency not in (None, "month", "quarter"):
        return None
    last = pd.Timestamp(period).month + (2 if frequency == "quarter" else 0)
    return last if last < month else None


def goal_table(targets: pd.DataFrame, actuals: pd.DataFrame, kinds: dict[str, str], year: int, month: int,
               severe_gap: float = SEVERE_GAP, frequency: dict[str, str] | None = None) -> pd.DataFrame:
    """Each task with target, actual, 完成率, 序时进度, status and pace; the most lagging first.

    A task whose latest figure is older than `month` (November not reported) is judged as of the
    month it was reported to: its 序时进度, status and pace are October's, and `reported_to` says so.
    October's year-to-date against November's 序时进度 would call a late report a lagging task, and
    the pace would spread the rest over one month when November's work is merely not known yet.
    `frequency` (monthly where not given) tells an annual figure, which is never late, from those.
    """
    rows = []
    latest = latest_in_year(actuals, year, month).set_index("indicator_id") if not actuals.empty else None
    for t in targets.itertuples():
        deadline = pd.Timestamp(t.deadline).date() if pd.notna(t.deadline) else dt.date(year, 12, 31)
        start = dt.date(year, 1, 1)
        actual = actual_period = source = None
        if latest is not None and t.indicator_id in latest.index:
            actual = float(latest.loc[t.indicator_id, "value"])
            actual_period = latest.loc[t.indicator_id, "period"]
            source = latest.loc[t.indicator_id].get("source")  # what the page cites: the row's, not the catalogue's
        late = reported_to(actual_period, (frequency or {}).get(t.indicator_id), month)
        as_of = month_end(year, late or month)
        elapsed = elapsed_share(as_of, start, deadline)
        kind = kinds.get(t.indicator_id, "count")
        done = completion(actual, t.target)
        if kind == "rate":
            # a rate target is a level to reach, not a quantity to accumulate: no 序时进度
            st = None if done is None else ("已完成" if done >= 1 else "滞后")
            months_left, pace = None, None
        else:
            st = status(done, elapsed, severe_gap)
            months_left = max(0, (deadline.year - as_of.year) * 12 + deadline.month - as_of.month)
            pace = pace_needed(t.target, actual, months_left)
        rows.append(dict(indicator_id=t.indicator_id, department=t.department, task=t.task,
                         target=float(t.target), actual=actual, actual_period=actual_period, reported_to=late,
                         completion=done, elapsed=None if kind == "rate" else elapsed,
                         gap=None if done is None or kind == "rate" else gap_points(done, elapsed) / 100,
                         status=st, months_left=months_left, pace=pace, deadline=deadline, source=source))
    df = pd.DataFrame(rows, columns=["indicator_id", "department", "task", "target", "actual", "actual_period",
                                     "reported_to", "completion", "elapsed", "gap", "status", "months_left", "pace",
                                     "deadline", "source"])
    order = {s: i for i, s in enumerate(STATUSES)}
    df["_o"] = df["status"].map(order).fillna(len(order))
    return df.sort_values(["_o", "gap"], na_position="last").drop(columns="_o").reset_index(drop=True)


KPI_COLUMNS = ["indicator_id", "value", "min_value", "max_value", "period", "stale", "yoy", "obs_source",
               "derived", "n_reported", "n_expected"]


def _latest_per_indicator(d: pd.DataFrame) -> pd.DataFrame:
    """The row `latest_in_year` would put first for each indicator: each region's last period,
    then, across regions, the earliest of those (one region per indicator on the pages)."""
    last = d.sort_values("period", kind="stable").groupby(["indicator_id", "region_code"], sort=False).tail(1)
    return last.drop_duplicates("indicator_id", keep="first")


def kpis(series: pd.DataFrame, indicators: pd.DataFrame, year: int) -> pd.DataFrame:
    """One row per indicator: the latest value in `year`, its 同比, and the period it refers to.

    An annual figure that is not out yet for `year` falls back to the year before, flagged
    `stale`, so the card shows the latest known value and says which year it is.

    Column-wise over the whole series (no filter per indicator); the same answer as taking, for
    each indicator, `latest_in_year` in `year` (else in `year - 1`) and its `year_ago` value.
    """
    s = series.reindex(columns=[*series.columns, *(c for c in ("min_value", "max_value") if c not in series)])
    s = s[s["indicator_id"].isin(indicators["id"])]
    y = s["period"].dt.year
    cur = _latest_per_indicator(s[y == year])
    prev = _latest_per_indicator(s[(y == year - 1) & ~s["indicator_id"].isin(cur["indicator_id"])])
    pick = pd.concat([cur.assign(stale=False), prev.assign(stale=True)], ignore_index=True)
    # year_ago: the same indicator, region and period a year before (periods shifted forward, as there)
    ago = s[s["indicator_id"].isin(pick["indicator_id"]) & y.between(year - 2, year - 1)]
    ago = ago[["indicator_id", "region_code", "period", "value"]].assign(period=ago["period"] + pd.DateOffset(years=1))
    pick = pick.merge(ago.rename(columns={"value": "_base"}), on=["indicator_id", "region_code", "period"], how="left")
    kinds = dict(zip(indicators["id"], indicators["kind"]))
    pick["yoy"] = [None if st else change(kinds[i], v, b)
                   for i, v, b, st in zip(pick["indicator_id"], pick["value"], pick["_base"], pick["stale"])]
    pick["derived"] = pick["derived"].astype(bool)
    pick = pick.rename(columns={"source": "obs_source"})[KPI_COLUMNS]
    out = pd.DataFrame({"indicator_id": indicators["id"].to_numpy()}).merge(pick, on="indicator_id", how="left")
    out["stale"] = out["stale"].fillna(False).astype(bool)
    out["yoy"] = out["yoy"].astype(object).where(out["yoy"].notna(), None)
    return out.merge(indicators, left_on="indicator_id", right_on="id", how="left")


def inherit_standards(cards: pd.DataFrame, above: pd.DataFrame, ancestors: list[str],
                      indicators: pd.DataFrame, year: int) -> pd.DataFrame:
    """`kpis` cards with each standard the region has neither its own value of nor a range of its
    subdivisions' filled from its nearest ancestor that has one — the standard that applies to it:
    a township pays its county's 低保标准. `above` is the ancestors' series, `ancestors` nearest
    first; `applies_from` names the ancestor (None where the card is the region's own)."""
    out = cards.assign(applies_from=None)
    todo = (out["kind"] == "standard") & out["value"].isna() & out["min_value"].isna()
    for code in ancestors:
        if not todo.any():
            break
        theirs = kpis(above[above["region_code"] == code], indicators, year).set_index("indicator_id")
        fill = todo & out["indicator_id"].map(theirs["value"]).notna()
        for col in [*KPI_COLUMNS[1:], "applies_from"]:
            new = out["indicator_id"].map(theirs[col]) if col != "applies_from" else code
            out[col] = out[col].where(~fill, new)
        todo &= ~fill
    out["yoy"] = out["yoy"].astype(object).where(out["yoy"].notna(), None)  # a Change or None, as `kpis` gives
    return out
