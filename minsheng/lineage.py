"""Code changes: when a region's code is valid, and which code took over from it.

Codes change (430221 株洲县 became 430212 渌口区 in 2018). A region carries `valid_from` and
`valid_to` (both days included, empty: open) and, once retired, `successor_code`. A region counts
in a period when it is valid on the period's last day: the division as at the end of a month,
quarter or year, which is how official lists are dated and how year-end returns are filed. So in
the month (or year) of a change exactly one of predecessor and successor counts, and a roll-up
never adds both. The importer, the roll-ups (`rollup.py`, `queries/series.sql`), the map, the
trend and the exports all use this one rule.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from minsheng import fields

# A period's last day in SQL, from its first day and its indicator's frequency (the one spelling of it
# in SQL: rollup.py builds from it, queries/series.sql spells the same expression out).
PERIOD_END_SQL = ("(({p}) + case {f} when 'month' then interval 1 month when 'quarter' then interval 3 month "
                  "else interval 1 year end - interval 1 day)::date")


def period_end(period: dt.date, frequency: str) -> dt.date:
    """The last day of the period starting on `period`."""
    months = {"month": 1, "quarter": 3}.get(frequency, 12)
    n = period.year * 12 + period.month - 1 + months
    return dt.date(n // 12, n % 12 + 1, 1) - dt.timedelta(days=1)


def _day(v) -> dt.date | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).date()


def valid_on(valid_from, valid_to, day: dt.date) -> bool:
    f, t = _day(valid_from), _day(valid_to)
    return (f is None or f <= day) and (t is None or day <= t)


def window(valid_from, valid_to) -> str:
    """A validity in words: 2018-06-20 起、至 2018-06-19、2001-01-01 至 2018-06-19."""
    f, t = _day(valid_from), _day(valid_to)
    if f and t:
        return f"{f.isoformat()} 至 {t.isoformat()}"
    return f"{f.isoformat()} 起" if f else (f"至 {t.isoformat()}" if t else "长期有效")


def current_code(code: str, successor: dict) -> str:
    """The code a region is known by now: the end of its chain of successors (a cycle stops the walk)."""
    seen = [code]
    while isinstance(nxt := successor.get(seen[-1]), str) and nxt and nxt not in seen:
        seen.append(nxt)
    return seen[-1]


def heirs(regions: pd.DataFrame) -> dict[str, dict]:
    """successor code → the region it took over from, as a row (code, name, valid_from, valid_to …);
    of several merged into one, the latest to retire."""
    rows = fields.with_added(regions, "regions")
    rows = rows[rows["successor_code"].notna()].sort_values("valid_to")
    return {r["successor_code"]: r for r in rows.to_dict("records")}


def predecessors(code: str, heirs_of: dict[str, dict]) -> list[dict]:
    """The regions `code` took over from, nearest first (`heirs_of` from `heirs`)."""
    out, at = [], code
    while at in heirs_of and heirs_of[at]["code"] not in {code, *(p["code"] for p in out)}:
        out.append(heirs_of[at])
        at = heirs_of[at]["code"]
    return out


def note(chain: list[dict]) -> str:
    """The trend's note on a line joined across code changes: 2018年6月20日前为株洲县（430221000000）."""
    parts = []
    for p in chain:
        start = _day(p["valid_to"]) + dt.timedelta(days=1)
        when = f"{start.year} 年" if (start.month, start.day) == (1, 1) else f"{start.year}年{start.month}月{start.day}日"
        parts.append(f"{when}前为{p['name']}（{p['code']}）")
    return "；".join(parts)


def series(sel, heirs_of: dict[str, dict], frequency: dict, read) -> pd.DataFrame:
    """The selection's series (`read(sel)`) with each region's line joined across its code changes:
    its predecessors' rows are read too and drawn as its own history (`joined`)."""
    shown = list(sel.regions or (sel.region,))
    before = [p["code"] for c in shown for p in predecessors(c, heirs_of)]
    if not before:
        return read(sel)
    s = read(sel.with_(regions=[*shown, *dict.fromkeys(c for c in before if c not in shown)]))
    return joined(s, shown, heirs_of, frequency) if len(s) else s


def joined(series: pd.DataFrame, shown: list[str], heirs_of: dict[str, dict], frequency: dict) -> pd.DataFrame:
    """Series rows with each shown region's predecessors' rows relabelled as the region's own history
    (for the periods a predecessor was valid in and the region has no row of its own); a predecessor
    shown beside its successor is drawn as part of the successor's line, not as a line of its own."""
    parts, moved = [series], set()
    have = set(zip(series["indicator_id"], series["region_code"], series["period"]))
    for code in shown:
        for p in predecessors(code, heirs_of):
            moved.add(p["code"])
            rows = series[series["region_code"] == p["code"]]
            keep = [valid_on(p["valid_from"], p["valid_to"], period_end(d.date(), frequency[i]))
                    and (i, code, d) not in have for i, d in zip(rows["indicator_id"], rows["period"])]
            parts.append(rows[keep].assign(region_code=code))
    out = pd.concat(parts, ignore_index=True)
    return out[~out["region_code"].isin(moved)].sort_values(["indicator_id", "region_code", "period"]) \
        .reset_index(drop=True)
