"""A second, independent computation of what queries/series.sql answers, in pandas.

The tables are loaded whole with pandas.read_parquet; the region tree is walked in Python from
each asked region and the leaf rows are aggregated here, with no roll-up table, no `ancestors`
closure and no SQL involved. The tests compare the query layer against it (test_rollup.py,
test_bench.py) and the benchmark runs it as its baseline (bench/baseline.py). Keep it that way:
an oracle that called the product's code would agree with any bug in it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from minsheng import store, vocab

KEYS = ["indicator_id", "region_code", "period"]  # one row of a series answer
OBS_COLS = ["indicator_id", "region_code", "period", "value", "numerator", "denominator", "status", "source"]


def layered(folder: Path, name: str, **read) -> pd.DataFrame:
    """Table `name` ("observations" or "rollup") as of version folder `folder`: the base file, and where
    imports left a delta file beside it (NAME.delta.parquet, minsheng/layers.py) its rows in place of the
    base's with the same indicator, region and period, sorted as stored — applied here in pandas, not by
    the product's view. `read`: pandas.read_parquet's options."""
    base = pd.read_parquet(Path(folder) / f"{name}.parquet", **read)
    delta = Path(folder) / f"{name}.delta.parquet"
    if not delta.exists():
        return base
    new = pd.read_parquet(delta, **read)[base.columns]
    replaced = pd.MultiIndex.from_frame(base[KEYS]).isin(pd.MultiIndex.from_frame(new[KEYS]))
    out = pd.concat([base[~replaced], new], ignore_index=True)
    return out.sort_values(["region_code", "indicator_id", "period"], ignore_index=True)


class Reference:
    """The series, targets and export answers from the data directory's tables, in pandas."""

    def __init__(self, directory: Path):
        folder = store.resolve(Path(directory))
        self.obs = layered(folder, "observations", columns=OBS_COLS, to_pandas_kwargs={"date_as_object": False})
        self.reg = pd.read_parquet(store.table_path(folder, "regions"))
        self.ind = pd.read_parquet(store.table_path(folder, "indicators"))
        self.tgt = pd.read_parquet(store.table_path(folder, "targets"))
        self.children: dict[str, list[str]] = {}
        for c, p in zip(self.reg["code"], self.reg["parent_code"]):
            if pd.notna(p):
                self.children.setdefault(p, []).append(c)
        self.level = dict(zip(self.reg["code"], self.reg["level"]))
        # validity (code changes): a region counts in a period when it is valid on the period's last day
        for c in ("valid_from", "valid_to"):
            self.reg[c] = pd.to_datetime(self.reg[c]) if c in self.reg else pd.NaT
        self.bounded = self.reg.loc[self.reg["valid_from"].notna() | self.reg["valid_to"].notna(),
                                    ["code", "valid_from", "valid_to"]].rename(columns={"code": "node"})

    def tree(self, roots) -> pd.DataFrame:
        """(root, node, depth, level) for every region under each root, the root itself at depth 0."""
        r, n, d = [], [], []
        for root in dict.fromkeys(roots):
            frontier, depth = ([root] if root in self.level else []), 0
            while frontier:
                r += [root] * len(frontier)
                n += frontier
                d += [depth] * len(frontier)
                frontier = [c for x in frontier for c in self.children.get(x, ())]
                depth += 1
        return pd.DataFrame({"root": r, "node": n, "depth": d, "level": [self.level[x] for x in n]})

    @staticmethod
    def period_end(period: pd.Series, frequency: pd.Series) -> pd.Series:
        """The last day of each period, by month arithmetic on the calendar (no SQL intervals)."""
        months = frequency.map({"month": 1, "quarter": 3}).fillna(12).astype(int)
        first = period.dt.year * 12 + period.dt.month - 1 + months
        nxt = pd.to_datetime(pd.DataFrame({"year": first // 12, "month": first % 12 + 1, "day": 1}))
        return nxt - pd.Timedelta(days=1)

    def _invalid(self, rows: pd.DataFrame, end: pd.Series) -> pd.Series:
        """Whether each row's `node` is outside its validity on the day `end`."""
        b = rows[["node"]].merge(self.bounded, on="node", how="left")
        f, t = b["valid_from"].to_numpy(), b["valid_to"].to_numpy()
        e = end.to_numpy()
        return pd.Series((~pd.isna(f) & (f > e)) | (~pd.isna(t) & (t < e)), index=rows.index)

    def series(self, ids, roots, d0: dt.date, d1: dt.date) -> pd.DataFrame:
        """queries/series.sql in pandas: own value first, else Σ at the report level (Σnum/Σden for
        rates), standards min–max over the report level's own values; n_reported of n_expected."""
        keys = ["root", "indicator_id", "period"]
        wanted = self.ind.loc[self.ind["id"].isin(list(ids)), ["id", "kind", "report_level", "frequency"]]
        wanted = wanted.rename(columns={"id": "indicator_id"})
        tree = self.tree(roots)
        o = self.obs[self.obs["indicator_id"].isin(wanted["indicator_id"])]  # most selective first
        o = o[(o["period"] >= pd.Timestamp(d0)) & (o["period"] <= pd.Timestamp(d1))]
        o = o[o["region_code"].isin(tree["node"].unique())]
        obs = o.merge(tree, left_on="region_code", right_on="node").merge(wanted, on="indicator_id")
        own = obs.loc[obs["depth"] == 0, keys + ["value", "numerator", "denominator", "status", "source"]]
        b = obs[(obs["depth"] > 0) & (obs["level"] == obs["report_level"])]  # standards too: min–max, not Σ
        b = b[~self._invalid(b, self.period_end(b["period"], b["frequency"]))]  # a retired code's rows outside it
        g = b.groupby(keys)
        below = pd.DataFrame({
            "kind": g["kind"].first(), "sum_value": g["value"].sum(min_count=1).round(6),
            "sum_num": g["numerator"].sum(min_count=1), "sum_den": g["denominator"].sum(min_count=1),
            "min_value": g["value"].min(), "max_value": g["value"].max(), "n_reported": g.size(),
            "b_status": b.assign(p=b["status"].eq("provisional")).groupby(keys)["p"].any()
                         .map({True: "provisional", False: "final"}),
            "b_source": b[keys + ["source"]].dropna().drop_duplicates().sort_values("source")
                         .groupby(keys)["source"].agg("；".join),
        }).reset_index()
        t = tree[tree["depth"] > 0]
        by_level = t.groupby(["root", "level"]).size().rename("n_expected").reset_index()
        expected = wanted.merge(by_level, left_on="report_level", right_on="level")[["root", "indicator_id", "n_expected"]]
        out = own.assign(_own=True).merge(below, on=keys, how="outer").merge(expected, on=["root", "indicator_id"], how="left")
        out = out.merge(wanted[["indicator_id", "frequency"]], on="indicator_id", how="left")
        out["n_expected"] -= self._expected_invalid(out, t, wanted)
        is_own = out["_own"].eq(True)
        kind = out["kind"]
        rate = 100.0 * out["sum_num"] / out["sum_den"].where(out["sum_den"] != 0)
        std = kind.eq("standard")
        res = pd.DataFrame({
            "indicator_id": out["indicator_id"], "region_code": out["root"], "period": out["period"],
            "value": np.where(is_own, out["value"], np.where(kind.isin(["count", "amount"]), out["sum_value"],
                                                             np.where(kind.eq("rate"), rate, np.nan))),
            "numerator": out["numerator"].combine_first(out["sum_num"]),
            "denominator": out["denominator"].combine_first(out["sum_den"]),
            "min_value": out["min_value"].where(std), "max_value": out["max_value"].where(std),
            "derived": ~is_own, "n_reported": out["n_reported"].fillna(0).astype("int64"),
            "n_expected": out["n_expected"].fillna(0).astype("int64"),
            "status": out["status"].combine_first(out["b_status"]), "source": out["source"].combine_first(out["b_source"]),
        })
        return res.sort_values(KEYS).reset_index(drop=True)

    def like_for_like(self, ids, roots, d0: dt.date, d1: dt.date) -> pd.DataFrame:
        """queries/like_for_like.sql in pandas, straight from the leaf rows: per root, indicator and period,
        the units below the root that reported then and a year before. A unit is a code with every code
        whose successors lead to it (walked here in Python), each row valid on its period's last day;
        a unit's rows in one period are summed (merged codes), and it counts under the least parent code
        of its rows in the later period."""
        wanted = self.ind.loc[self.ind["id"].isin(list(ids)) & self.ind["kind"].ne("standard"),
                              ["id", "kind", "report_level", "frequency"]].rename(columns={"id": "indicator_id"})
        o = self.obs[self.obs["indicator_id"].isin(wanted["indicator_id"])].merge(wanted, on="indicator_id")
        o = o[o["region_code"].map(self.level).eq(o["report_level"])]
        o = o[~self._invalid(o.assign(node=o["region_code"]), self.period_end(o["period"], o["frequency"])).to_numpy()]
        successor = dict(zip(self.reg["code"], self.reg.get("successor_code", pd.Series(None, index=self.reg.index))))
        parent = dict(zip(self.reg["code"], self.reg["parent_code"]))

        def heir(code):
            seen = [code]
            while isinstance(nxt := successor.get(seen[-1]), str) and nxt and nxt not in seen and len(seen) <= 32:
                seen.append(nxt)
            return seen[-1]

        o = o.assign(unit=o["region_code"].map({c: heir(c) for c in o["region_code"].unique()}),
                     parent=o["region_code"].map(parent))
        keys = ["indicator_id", "unit", "period"]
        g = o.groupby(keys)
        now = pd.DataFrame({"s": g["value"].sum(min_count=1), "sn": g["numerator"].sum(min_count=1),
                            "sd": g["denominator"].sum(min_count=1), "parent": g["parent"].min()}).reset_index()
        then = now.drop(columns="parent").rename(columns={"s": "bs", "sn": "bsn", "sd": "bsd"})
        then["period"] = then["period"] + pd.DateOffset(years=1)
        pairs = now[now["parent"].notna()].merge(then, on=keys)
        pairs = pairs[(pairs["period"] >= pd.Timestamp(d0)) & (pairs["period"] <= pd.Timestamp(d1))]
        tree = self.tree(roots)
        pairs = pairs.merge(tree[["root", "node"]], left_on="parent", right_on="node")  # the unit lies below the root
        g = pairs.groupby(["indicator_id", "root", "period"])
        out = pd.DataFrame({c: g[c].sum(min_count=1) for c in ("s", "sn", "sd", "bs", "bsn", "bsd")})
        out["n_both"] = g.size()
        out = out.reset_index().merge(wanted[["indicator_id", "kind"]], on="indicator_id")
        rate = out["kind"].eq("rate")
        res = pd.DataFrame({
            "indicator_id": out["indicator_id"], "region_code": out["root"], "period": out["period"],
            "value": np.where(rate, 100.0 * out["sn"] / out["sd"].where(out["sd"] != 0), out["s"].round(6)),
            "base_value": np.where(rate, 100.0 * out["bsn"] / out["bsd"].where(out["bsd"] != 0), out["bs"].round(6)),
            "n_both": out["n_both"].astype("int64"),
        })
        return res.sort_values(KEYS).reset_index(drop=True)

    def _expected_invalid(self, out: pd.DataFrame, t: pd.DataFrame, wanted: pd.DataFrame) -> pd.Series:
        """Per answer row, how many of the units counted in n_expected are not valid in its period:
        only regions with a bound on their validity (few) are looked at, row by row."""
        bounded = t[t["node"].isin(self.bounded["node"])]
        if bounded.empty:
            return pd.Series(0, index=out.index)
        rows = out.reset_index()[["index", "root", "indicator_id", "period", "frequency"]].merge(
            wanted[["indicator_id", "kind", "report_level"]], on="indicator_id").merge(bounded, on="root")
        rows = rows[rows["level"] == rows["report_level"]]
        rows = rows[self._invalid(rows, self.period_end(rows["period"], rows["frequency"])).to_numpy()]
        return rows.groupby("index").size().reindex(out.index, fill_value=0)

    def targets(self, region: str, year: int) -> pd.DataFrame:
        """The region's tasks for the year, in the 目标 page's order (repo.targets)."""
        t = self.tgt[(self.tgt["region_code"] == region) & (self.tgt["year"] == year)]
        return t.sort_values(["department", "task"]).reset_index(drop=True)

    def scope(self, region: str, level: str | None) -> list[str]:
        """The regions an export covers: the region itself, or its descendants at `level`."""
        if level is None:
            return [region]
        t = self.tree([region])
        return sorted(t.loc[t["level"] == level, "node"])

    def table(self, s: pd.DataFrame, columns: dict) -> pd.DataFrame:
        """A series answer with the export's columns (export.COLUMNS), decorated like export.table, column-wise."""
        cat, reg = self.ind.set_index("id"), self.reg.set_index("code")
        freq = s["indicator_id"].map(cat["frequency"])
        year, month = s["period"].dt.year.astype(str) + "年", s["period"].dt.month
        label = year.where(freq != "month", year + month.astype(str) + "月")  # fmt.period_label, vectorised
        heir = reg["successor_code"].dropna().to_dict() if "successor_code" in reg else {}
        latest = {}
        for code in s["region_code"].unique():  # follow each retired code's successors to the one in use
            seen = [code]
            while heir.get(seen[-1]) and heir[seen[-1]] not in seen:
                seen.append(heir[seen[-1]])
            latest[code] = seen[-1]
        s = s.assign(
            name_zh=s["indicator_id"].map(cat["name_zh"]), unit=s["indicator_id"].map(cat["unit"]),
            region_name=s["region_code"].map(reg["name"]), current_code=s["region_code"].map(latest), level_zh=s["region_code"].map(reg["level"]).map(vocab.LEVELS.labels),
            period_label=label.where(freq != "quarter", year + "第" + ((month - 1) // 3 + 1).astype(str) + "季度"),
            basis=np.where(s["derived"], "下级汇总", "本级报送"), status_zh=s["status"].map(vocab.STATUSES.labels),
            period=s["period"].dt.date, value=s["value"].round(6),
            **{c: s[c].astype("float64").round(6) for c in ("numerator", "denominator", "min_value", "max_value")})
        return s[list(columns)].rename(columns=columns).reset_index(drop=True)


def same(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> str | None:
    """None when the two answers agree (numbers to 1e-9 relative), else the first difference."""
    if list(a.columns) != list(b.columns):
        return f"列不同：{list(a.columns)} / {list(b.columns)}"
    if len(a) != len(b):
        return f"行数不同：{len(a)} / {len(b)}"
    norm = {}
    for side, df in (("a", a), ("b", b)):
        df = df.copy()
        for k in keys:  # dates come back as dates, datetimes or strings depending on the path
            if "period" in k or "时期起始日" in k:
                df[k] = pd.to_datetime(df[k]).astype("datetime64[ns]")
        norm[side] = df.sort_values(keys).reset_index(drop=True)
    a, b = norm["a"], norm["b"]
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(x):
            xs, ys = x.astype("float64").to_numpy(), y.astype("float64").to_numpy()
            bad = ~np.isclose(xs, ys, rtol=1e-9, atol=1e-6, equal_nan=True)
        else:
            bad = (x.astype(str).where(x.notna(), "") != y.astype(str).where(y.notna(), "")).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            return f"{c} 不同，第 {i} 行：{x.iloc[i]!r} / {y.iloc[i]!r}（{dict(a.loc[i, keys])}）"
    return None
