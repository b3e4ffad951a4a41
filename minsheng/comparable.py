"""同比 across unequal coverage: which roll-ups compare different sets of reporters, and the
like-for-like change that compares only the units reporting in both periods.

A roll-up's 同比 compares this period's sum with last year's; when 1,258 of 1,400 villages reported
this November against 1,384 a year before, most of a −9.4 % is villages that did not report. Here:
each row's coverage a year before (`with_base_coverage`), whether the two differ (`uneven`), the rows
whose like-for-like figure is worth asking for (`to_ask`: a complete count in both periods means the
same units, so no query), the like-for-like change taken in (`apply_cards`, `apply_series`, from
repo.like_for_like), and the words shown beside the change (`note`). Pure pandas; the pages' glue
is minsheng/ui/comparable.py.
"""

from __future__ import annotations

import pandas as pd

from minsheng import i18n, metrics

KEYS = ["indicator_id", "region_code", "period"]


def with_base_coverage(rows: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """`rows` with n_reported_base / n_expected_base: the same indicator and region's coverage a year
    before each row's period, from `series` (NA where that period has no row)."""
    prev = series[KEYS + ["n_reported", "n_expected"]].assign(period=series["period"] + pd.DateOffset(years=1))
    prev = prev.rename(columns={"n_reported": "n_reported_base", "n_expected": "n_expected_base"})
    out = rows.drop(columns=[c for c in ("n_reported_base", "n_expected_base") if c in rows])
    return out.merge(prev.drop_duplicates(KEYS), on=KEYS, how="left").set_axis(rows.index)


def uneven(rows: pd.DataFrame) -> pd.Series:
    """Derived rows (no value of their own, not standards) whose count of reporters differs between
    the period and a year before: their 同比 needs its coverage beside it."""
    derived = rows["derived"].fillna(False).astype(bool) if "derived" in rows else pd.Series(False, index=rows.index)
    base = rows["n_reported_base"]
    return derived & base.notna() & rows["n_reported"].notna() & (rows["n_reported"] != base)


def to_ask(rows: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """The derived, summed rows that have a year-before row and an incomplete count in either period:
    the only ones where like for like can differ (all units in both is the same set of units)."""
    has_base = rows["n_reported_base"].notna() & rows["n_expected_base"].notna()
    complete = (rows["n_reported"] == rows["n_expected"]) & (rows["n_reported_base"] == rows["n_expected_base"])
    summed = rows["indicator_id"].map(kinds).isin(["count", "amount", "rate"])
    derived = rows["derived"].fillna(False).astype(bool)
    return rows[derived & summed & has_base & ~complete.fillna(False).astype(bool)]


def _joined(rows: pd.DataFrame, lfl: pd.DataFrame) -> pd.DataFrame:
    cols = KEYS + ["value", "base_value", "n_both"]
    got = lfl[cols].rename(columns={"value": "lfl_value", "base_value": "lfl_base"}) if len(lfl) else \
        pd.DataFrame(columns=[*KEYS, "lfl_value", "lfl_base", "n_both"])
    got = got.astype({"period": rows["period"].dtype})
    return rows.drop(columns=[c for c in ("lfl_value", "lfl_base", "n_both") if c in rows]).merge(
        got, on=KEYS, how="left").set_axis(rows.index)


def apply_cards(cards: pd.DataFrame, lfl: pd.DataFrame) -> pd.DataFrame:
    """Cards (metrics.kpis with region_code and base coverage) whose derived 同比 becomes the
    like-for-like Change where `lfl` has their row; n_both says how many units it compares."""
    out = _joined(cards, lfl)
    take = out["n_both"].notna() & out["derived"].fillna(False).astype(bool) & ~out["stale"].astype(bool)
    out["yoy"] = [metrics.change(k, v, b) if t else y
                  for t, k, v, b, y in zip(take, out["kind"], out["lfl_value"], out["lfl_base"], out["yoy"])]
    out["n_both"] = out["n_both"].where(take)
    return out


def apply_series(s: pd.DataFrame, lfl: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """A series with 同比 (metrics.with_changes) whose derived rows take the like-for-like change."""
    out = _joined(s, lfl)
    take = out["n_both"].notna() & out["derived"].fillna(False).astype(bool)
    changed = [None if (c := metrics.change(kinds[i], v, b)) is None else c.value
               for i, v, b in zip(out["indicator_id"], out["lfl_value"], out["lfl_base"])]
    out["yoy"] = out["yoy"].astype(object).where(~take, pd.Series(changed, index=out.index, dtype=object))
    out["yoy"] = pd.to_numeric(out["yoy"], errors="coerce")
    out["n_both"] = out["n_both"].where(take)
    return out


def note(row, lang: str = "zh") -> str:
    """The coverage beside a change when it differs between the periods — （已报 1258/1400，上年
    1384/1400）, with 同口径 n 个 first when the change is like for like — else ''."""
    n, m, n0, m0 = (row.get(c) for c in ("n_reported", "n_expected", "n_reported_base", "n_expected_base"))
    if any(v is None or pd.isna(v) for v in (n, m, n0, m0)) or not row.get("derived") or n == n0:
        return ""
    both = row.get("n_both")
    values = dict(n=int(n), m=int(m), n0=int(n0), m0=int(m0))
    if both is not None and not pd.isna(both):
        return i18n.t("（同口径 {both} 个，已报 {n}/{m}，上年 {n0}/{m0}）", lang, both=int(both), **values)
    return i18n.t("（已报 {n}/{m}，上年 {n0}/{m0}）", lang, **values)
