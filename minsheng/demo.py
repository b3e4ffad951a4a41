"""Deterministic generator of the bundled demo dataset (`python -m minsheng demo`).

The numbers are invented around the figures the seed reports give, which they reproduce exactly
and in the place they belong: 株洲市's (2022 城市低保标准 625 元/月, 适老化改造 1030 户 city-wide,
石峰区 2023 参保人数 192847 at 100%) and 岳阳市屈原管理区's (its July 2023 task report). Only the
rows that make up a seed's figure cite the seed; a county with a seed figure keeps that share of
the city in every year, so its series moves like its neighbours' instead of jumping to the figure.
Rows are written at each indicator's reporting level; everything above it is a roll-up computed by
the query layer, so the demo exercises the same arithmetic as real data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from pathlib import Path

import pandas as pd

from minsheng import cycle_demo, fields, notes, store
from minsheng.catalog_demo import (GENERATED, INDICATORS, QUYUAN_NOTES_2023_07, QUYUAN_SOURCE, QUYUAN_TASKS_2023,
                                    TASKS)
from minsheng.regions_demo import CITY, COUNTIES, QUYUAN, county_code, hierarchy

FIRST_YEAR = 2018
DEFAULT_AS_OF = (2026, 10)  # the last month with data; fixed so the demo is reproducible
BATCH = "demo"

# 2020 census residents by county (NBS county tabulation) — used only as weights.
COUNTY_POPULATION = {
    "430202": 348894, "430203": 307012, "430204": 223634, "430211": 478309, "430212": 260534,
    "430223": 630427, "430224": 491849, "430225": 160274, "430281": 885987,
}
URBAN_DISTRICTS = {"430202", "430203", "430204", "430211"}


def points(ind: dict) -> dict:
    """The figures a series is bent through: the seed's and the generator's own waypoints."""
    return {**ind.get("waypoints", {}), **ind["anchors"]}


def allocate(total: float, weights: list[float], decimals: int = 0) -> list[float]:
    """Split `total` in proportion to `weights` so the rounded parts add up exactly to it."""
    scale = 10 ** decimals
    units = round(total * scale)
    wsum = sum(weights)
    if wsum <= 0:
        raise ValueError("weights must have a positive sum")
    raw = [units * w / wsum for w in weights]
    parts = [math.floor(x) for x in raw]
    rest = units - sum(parts)
    order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
    for i in order[:rest]:
        parts[i] += 1
    return [p / scale if decimals else int(p) for p in parts]


class _Demo:
    def __init__(self, as_of: tuple[int, int]):
        self.rng = random.Random(42)
        self.as_of = as_of
        self.years = list(range(FIRST_YEAR, as_of[0] + 1))
        self.regions = hierarchy()
        self.towns_of = {county_code(c): [r["code"] for r in self.regions if r["parent_code"] == county_code(c)]
                         for c, _, _ in COUNTIES}
        self.county_codes = [county_code(c) for c, _, _ in COUNTIES]
        self.county_w = [COUNTY_POPULATION[c] for c, _, _ in COUNTIES]
        # township shares inside a county: fixed per town, so a town keeps its size over the years
        self.town_w = {t: self.rng.uniform(0.5, 1.6) for towns in self.towns_of.values() for t in towns}
        self.rows: list[dict] = []

    # -- periods -----------------------------------------------------------------------------
    def months(self, year: int) -> list[int]:
        last = self.as_of[1] if year == self.as_of[0] else 12
        return list(range(1, last + 1))

    def annual_years(self, ind: dict) -> list[int]:
        # a year's annual figure is published after the year ends
        first, last = ind.get("first_year", FIRST_YEAR), ind.get("last_year", self.as_of[0] - 1)
        return [y for y in self.years if first <= y <= min(last, self.as_of[0] - 1)]

    # -- city-wide level per year, bent smoothly through the seed's anchors -------------------
    def level(self, ind: dict, year: int) -> float:
        t = year - FIRST_YEAR
        if ind["kind"] == "rate":
            raw = min(99.2, ind["base"] + ind["growth"] * t)
        else:
            raw = ind["base"] * (1 + ind["growth"]) ** t
        yearly = {y: v for (y, m), v in points(ind).items() if m in (None, 12)}
        if not yearly:
            return raw
        if year in yearly:
            return yearly[year]

        def factor(y):
            r = ind["base"] * (1 + ind["growth"]) ** (y - FIRST_YEAR) if ind["kind"] != "rate" else \
                min(99.2, ind["base"] + ind["growth"] * (y - FIRST_YEAR))
            return yearly[y] / r if r else 1.0
        ys = sorted(yearly)
        if year < ys[0]:
            return raw * factor(ys[0])
        if year > ys[-1]:
            return raw * factor(ys[-1])
        lo = max(y for y in ys if y < year)
        hi = min(y for y in ys if y > year)
        w = (year - lo) / (hi - lo)
        return raw * (factor(lo) * (1 - w) + factor(hi) * w)

    def county_weights(self, ind) -> list[float]:
        """Each county's weight in the city: its population, except that a county the seed gives a
        count for keeps, in every year, the share of the city that count has in its year."""
        w = dict(zip(self.county_codes, self.county_w))
        if ind["kind"] != "rate":
            for (c6, year), v in ind.get("county_anchors", {}).items():
                share = v / self.level(ind, year)
                others = sum(x for c, x in w.items() if c != county_code(c6))
                w[county_code(c6)] = share * others / (1 - share)
        return [w[c] for c in self.county_codes]

    def split(self, total: float, decimals: int, county_noise: float = 0.06, weights=None) -> dict[str, float]:
        """City total → counties, with a little noise in the shares."""
        w = [cw * self.rng.uniform(1 - county_noise, 1 + county_noise) for cw in weights or self.county_w]
        return dict(zip(self.county_codes, allocate(total, w, decimals)))

    def to_towns(self, county: str, total: float, decimals: int) -> dict[str, float]:
        towns = self.towns_of[county]
        w = [self.town_w[t] * self.rng.uniform(0.93, 1.07) for t in towns]
        return dict(zip(towns, allocate(total, w, decimals)))

    @staticmethod
    def cites(ind, region, year, month) -> bool:
        """Whether a row is part of a figure a seed gives: that figure's period, in its place."""
        if (year, month) in ind["anchors"] and region.startswith(ind.get("scope", CITY[0][:4])):
            return True
        last = None if ind["frequency"] == "year" else 12  # a county's figure is the year's
        return any(y == year and month == last and region.startswith(c6) for c6, y in ind.get("county_anchors", {}))

    def emit(self, ind, region, year, month, value, num=None, den=None):
        provisional = (year, month or 12) == self.as_of
        self.rows.append(dict(indicator_id=ind["id"], region_code=region,
                              period=dt.date(year, month or 1, 1), value=round(value, 6),
                              numerator=num, denominator=den,
                              status="provisional" if provisional else "final",
                              source=ind["source"] if self.cites(ind, region, year, month) else GENERATED,
                              batch_id=BATCH))

    # -- generators by kind --------------------------------------------------------------------
    def standard(self, ind):
        for year in self.annual_years(ind) + ([self.as_of[0]] if self.as_of[0] not in self.annual_years(ind) else []):
            city = round(self.level(ind, year))
            self.emit(ind, CITY[0], year, None, float(city))
            # counties caught up with the urban districts by 2022; 醴陵市 pays a little more from 2024
            gap = max(0.0, 0.06 - 0.015 * (year - FIRST_YEAR))
            for code6, _, _ in COUNTIES:
                v = city if code6 in URBAN_DISTRICTS else city * (1 - gap)
                if code6 == "430281" and year >= 2024:
                    v = city * 1.03
                self.emit(ind, county_code(code6), year, None, float(round(v)))

    def _leaves(self, ind, counties: dict[str, float], decimals: int) -> dict[str, float]:
        if ind["report_level"] == "county":
            return counties
        out = {}
        for c, v in counties.items():
            out.update(self.to_towns(c, v, decimals))
        return out

    def _county_anchor(self, ind, year, counties):
        for (c6, y), v in ind.get("county_anchors", {}).items():
            if y == year and ind["kind"] != "rate":
                counties[county_code(c6)] = v
        return counties

    def annual_count(self, ind):
        d = ind.get("decimals", 0)
        weights = self.county_weights(ind)
        for year in self.annual_years(ind):
            counties = self._county_anchor(ind, year, self.split(self.level(ind, year), d, weights=weights))
            for region, v in self._leaves(ind, counties, d).items():
                self.emit(ind, region, year, None, v)

    def monthly_stock(self, ind):
        d = ind.get("decimals", 0)
        for year in self.years:
            start, end = self.level(ind, year - 1), self.level(ind, year)
            for m in self.months(year):
                anchor = points(ind).get((year, m))
                total = anchor if anchor is not None else (start + (end - start) * m / 12) * self.rng.uniform(0.995, 1.005)
                for region, v in self._leaves(ind, self.split(total, d, 0.01), d).items():
                    self.emit(ind, region, year, m, v)

    def _city_path(self, ind, year, tasks=TASKS) -> list[float]:
        """City-wide year-to-date values for each month with data in `year`; in the current year a
        task's value at the data date is the share of its target the task list gives."""
        d = ind.get("decimals", 0)
        months = self.months(year)
        total = self.level(ind, year)
        p = self.rng.uniform(0.95, 1.2)
        f = {m: (m / 12) ** p for m in range(1, 13)}
        anchors = {m: v for (y, m), v in points(ind).items() if y == year and m not in (None, 12)}
        task = next((t for t in tasks if t[0] == ind["id"]), None)
        if year == self.as_of[0] and task:
            anchors[self.as_of[1]] = task[3] * task[4]
        path = []
        for m in months:
            if anchors:
                m0 = min(anchors)
                a = anchors[m0]
                if m <= m0:
                    v = a * f[m] / f[m0]
                else:
                    v = a + (total - a) * (f[m] - f[m0]) / (1 - f[m0]) if m0 < 12 else a
            else:
                v = total * f[m]
            path.append(round(v, d) if d else round(v))
        for i in range(1, len(path)):  # year-to-date never goes down
            path[i] = max(path[i], path[i - 1])
        return path

    def monthly_cumulative(self, ind):
        d = ind.get("decimals", 0)
        first = ind.get("first_year", FIRST_YEAR)
        for year in [y for y in self.years if y >= first]:
            path = self._city_path(ind, year)
            ytd: dict[str, float] = {}
            county_w = [cw * self.rng.uniform(0.95, 1.05) for cw in self.county_weights(ind)]
            per_county = []
            prev = 0
            for v in path:  # split each month's increment so every county's YTD is monotone
                inc = allocate(v - prev, county_w, d) if v - prev > 0 else [0] * len(county_w)
                prev = v
                for c, x in zip(self.county_codes, inc):
                    ytd[c] = round(ytd.get(c, 0) + x, d)
                per_county.append(dict(ytd))
            for (c6, y), a in ind.get("county_anchors", {}).items():
                c = county_code(c6)
                if y == year and per_county and per_county[-1][c] > 0:
                    k = a / per_county[-1][c]
                    for snap in per_county:
                        snap[c] = round(snap[c] * k, d) if d else round(snap[c] * k)
                    per_county[-1][c] = a
            town_ytd: dict[str, float] = {}
            prev_c = {c: 0 for c in self.county_codes}
            for m, snap in zip(self.months(year), per_county):
                leaves = {}
                for c, v in snap.items():
                    if ind["report_level"] == "county":
                        leaves[c] = v
                    else:
                        inc = self.to_towns(c, max(0, v - prev_c[c]), d)
                        for t, x in inc.items():
                            town_ytd[t] = round(town_ytd.get(t, 0) + x, d)
                            leaves[t] = town_ytd[t]
                    prev_c[c] = v
                for region, v in leaves.items():
                    self.emit(ind, region, year, m, v)

    def rate(self, ind, insured: dict | None = None):
        """Rates carry numerator and denominator; the city rate is what they add up to."""
        for year in self.annual_years(ind):
            city_rate = self.level(ind, year) / 100
            den_total = ind.get("denominator_base", 10000)
            counties = self.split(den_total, 0)
            leaves = self._leaves(ind, counties, 0)
            pairs = {}
            for region, den in leaves.items():
                # spread below the city rate more than above it, so few places sit at exactly 100 %
                r = self._anchored_rate(ind, region[:6], year) or min(0.999, city_rate + self.rng.uniform(-0.03, 0.012))
                if insured is not None and (region, year) in insured:
                    num = insured[(region, year)]
                    den = num if r >= 1.0 else round(num / r)
                else:
                    den = max(1, round(den))
                    num = min(den, round(den * r))
                pairs[region] = [num, den]
            if (year, None) in ind["anchors"]:
                # nudge numerators (within their denominators) until the city rate is the seed's
                want = round(ind["anchors"][(year, None)] / 100 * sum(d for _, d in pairs.values()))
                keys = sorted(pairs)
                i = 0
                while sum(n for n, _ in pairs.values()) != want:
                    n, d = pairs[keys[i % len(keys)]]
                    step = 1 if want > sum(n for n, _ in pairs.values()) else -1
                    if 0 <= n + step <= d:
                        pairs[keys[i % len(keys)]][0] = n + step
                    i += 1
            for region, (num, den) in pairs.items():
                self.emit(ind, region, year, None, round(100 * num / den, 2), float(num), float(den))

    def _anchored_rate(self, ind, code6, year) -> float | None:
        """A township's rate in a county the seed gives a rate for: at the seed's level from its year
        on (a little below it in places), about half a point a year lower before it."""
        for (c6, y), v in ind.get("county_anchors", {}).items():
            if c6 == code6:
                if year >= y:
                    return v / 100 - self.rng.uniform(0, 0.0007)
                return min(0.9999, v / 100 - 0.0045 * (y - year) + self.rng.uniform(-0.0015, 0.0015))
        return None

    def monthly_rate(self, ind, counties=None):
        counties = counties or list(zip(self.county_codes, self.county_w))
        total_w = sum(w for _, w in counties)
        for year in self.years:
            target = self.level(ind, year) / 100
            num_c = {c: 0 for c, _ in counties}
            den_c = {c: 0 for c, _ in counties}
            for m in self.months(year):
                base = ind["denominator_base"] / 12 * (1 + 0.08 * (year - FIRST_YEAR))
                for c, w in counties:
                    den = round(base * w / total_w * self.rng.uniform(0.8, 1.2))
                    anchor = ind["anchors"].get((year, 6))
                    r = anchor / 100 if anchor and m <= 6 else min(0.99, target + self.rng.uniform(-0.02, 0.02))
                    num_c[c] += round(den * r)
                    den_c[c] += den
                    self.emit(ind, c, year, m, round(100 * num_c[c] / den_c[c], 2),
                              float(num_c[c]), float(den_c[c]))

    def quyuan(self, ind):
        """屈原管理区's own series of an indicator its July 2023 report speaks of: one county-level
        unit, sized and shaped by the indicator's `quyuan` block, its 2023 figures the report's."""
        q = {**ind, **ind["quyuan"], "source": QUYUAN_SOURCE, "scope": QUYUAN[0]}
        code, d = county_code(QUYUAN[0]), ind.get("decimals", 0)
        if ind["kind"] == "rate":
            self.monthly_rate(q, [(code, 1.0)])
        elif ind["frequency"] == "month":
            for year in [y for y in self.years if y >= ind.get("first_year", FIRST_YEAR)]:
                for m, v in zip(self.months(year), self._city_path(q, year, tasks=())):
                    self.emit(q, code, year, m, v)
        else:
            for year in self.annual_years(q):
                self.emit(q, code, year, None, round(self.level(q, year), d))

    def build(self) -> pd.DataFrame:
        insured_leaf: dict = {}
        for ind in INDICATORS:
            start = len(self.rows)
            kind, freq = ind["kind"], ind["frequency"]
            if kind == "standard":
                self.standard(ind)
            elif kind == "rate" and freq == "month":
                self.monthly_rate(ind)
            elif kind == "rate":
                self.rate(ind, insured_leaf if ind["id"] == "yb_resident_insured_rate" else None)
            elif freq == "month" and ind["cumulative"]:
                self.monthly_cumulative(ind)
            elif freq == "month":
                self.monthly_stock(ind)
            else:
                self.annual_count(ind)
            if ind["id"] == "yb_resident_insured":
                insured_leaf = {(r["region_code"], r["period"].year): r["value"] for r in self.rows[start:]}
        for ind in INDICATORS:  # last: 屈原管理区's random draws do not shift 株洲市's numbers
            if "quyuan" in ind:
                self.quyuan(ind)
        df = pd.DataFrame(self.rows)
        df["value"] = df["value"].astype("float64")
        return df


def indicators_frame() -> pd.DataFrame:
    cols = ["id", "name_zh", "name_en", "unit", "domain", "kind", "frequency", "cumulative",
            "report_level", "higher_is_better", "description", "source", "seq"]
    rows = []
    for seq, ind in enumerate(INDICATORS, 1):
        hib = ind.get("higher_is_better", True)
        rows.append({**{k: ind.get(k) for k in cols}, "higher_is_better": hib,
                     "description": ind.get("description", ""), "seq": seq})
    return pd.DataFrame(rows, columns=cols)


def targets_frame(obs: pd.DataFrame, as_of: tuple[int, int]) -> pd.DataFrame:
    """屈原管理区's 2023 tasks (its July report); 株洲市's for the current year, and each county's share."""
    rows = [dict(indicator_id=ind_id, region_code=county_code(QUYUAN[0]), year=2023, target=float(target),
                 department=dept, task=task, deadline=dt.date(2023, 12, 31))
            for ind_id, dept, task, target in QUYUAN_TASKS_2023]
    demo = _Demo(as_of)
    for ind_id, dept, task, t_now, _ in TASKS:
        rows.append(dict(indicator_id=ind_id, region_code=CITY[0], year=as_of[0], target=float(t_now),
                         department=dept, task=task, deadline=dt.date(as_of[0], 12, 31)))
        decimals = 2 if isinstance(t_now, float) else 0
        for c, v in zip(demo.county_codes, allocate(t_now, demo.county_w, decimals)):
            rows.append(dict(indicator_id=ind_id, region_code=c, year=as_of[0], target=float(max(v, 1 if not decimals else 0.01)),
                             department=dept, task=task, deadline=dt.date(as_of[0], 12, 31)))
    return pd.DataFrame(rows)


def notes_frame() -> pd.DataFrame:
    """屈原管理区's task notes of July 2023 (minsheng/notes.py), written by its bureaus' role accounts."""
    tasks = {i: (dept, task) for i, dept, task, _ in QUYUAN_TASKS_2023}
    rows = [dict(indicator_id=i, region_code=county_code(QUYUAN[0]), year=2023, period=dt.date(2023, 7, 1),
                 department=tasks[i][0], task=tasks[i][1], progress=text, owner=owner, seq=n,
                 actor=f"屈原管理区{tasks[i][0]}填报", at=f"2023-07-20T{9 + n:02d}:00:00+08:00")
            for n, (i, text, owner) in enumerate(QUYUAN_NOTES_2023_07, 1)]
    return fields.typed(pd.DataFrame(rows), notes.SCHEMA)


def regions_frame(boundaries_dir: Path) -> pd.DataFrame:
    df = pd.DataFrame(hierarchy())
    points = {}
    for level in ("city", "county", "township"):
        path = boundaries_dir / f"{level}.geojson"
        if path.exists():
            for f in json.loads(path.read_text(encoding="utf-8"))["features"]:
                p = f["properties"]
                points[p["code"]] = (p.get("lon"), p.get("lat"))
    df["lon"] = [points.get(c, (None, None))[0] for c in df["code"]]
    df["lat"] = [points.get(c, (None, None))[1] for c in df["code"]]
    df["valid_from"] = pd.NaT
    df["valid_to"] = pd.NaT
    return df


def build(data_dir: Path, as_of: tuple[int, int] = DEFAULT_AS_OF) -> dict[str, int]:
    """Write the demo tables into `data_dir`; returns row counts."""
    obs = _Demo(as_of).build()
    tables = {
        "regions": regions_frame(data_dir / "boundaries"),
        "indicators": indicators_frame(),
        "observations": obs.sort_values(["indicator_id", "region_code", "period"]).reset_index(drop=True),
        "targets": targets_frame(obs, as_of),
    }
    last_day = (dt.date(as_of[0] + (as_of[1] == 12), as_of[1] % 12 + 1, 1) - dt.timedelta(days=1))
    meta = {"title": "株洲市、岳阳市屈原管理区民生指标（演示数据）", "demo": True, "data_date": last_day.isoformat(),
            "source_note": "演示数据：围绕两份种子报道中的公开数字生成，非官方统计",
            "generated_by": "python -m minsheng demo"}
    # the reporting cycle's 报表 and its history of returns (minsheng/cycle_demo.py), beside the tables
    tables |= cycle_demo.history(tables["regions"], tables["observations"], as_of)
    tables["task_notes"] = notes_frame()
    store.write_tables(data_dir, tables, meta)
    return {k: len(v) for k, v in tables.items()}
