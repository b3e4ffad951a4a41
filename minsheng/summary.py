"""The 数据 deck's table: per indicator what a meeting asks first — latest value, 同比, how many regions,
the lowest and highest, the periods covered — over every row of the export, not the first rows shown.

Streamlit-free: it reads the export's own stream (`export.batches`), so the summary and the CSV/XLSX
describe the same rows, and formats each figure as the pages do (`fmt.decimals_for`, `Change.signed`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from minsheng import export, fmt, i18n, metrics, repo
from minsheng.selection import Selection

KEEP = ["指标编码", "区划代码", "区划名称", "时期", "时期起始日", "数值"]
HEADERS = ("指标", "单位", "时期范围", "最新时期", "区划数", "最新值", "同比", "最低", "最高")


def rows(sel: Selection, directory: Path | None = None) -> tuple[list[str], list[list[str]]]:
    """(headers, one row of text per indicator with data), in the order the selection names them.

    With one region, 最新值 and 同比 are its own (同比 against the same period a year before, as the
    cards compute it); with a level, 最低/最高 name the regions at the ends of the latest period and
    最新值/同比 stay empty — the regions' values are not one figure."""
    parts = [b[KEEP] for b in export.batches(sel, directory)]
    cat = repo.indicators(directory).set_index("id")
    out = []
    if parts:
        df = pd.concat(parts, ignore_index=True)
        df["时期起始日"] = pd.to_datetime(df["时期起始日"])
        for ind in sel.indicators:
            d = df[(df["指标编码"] == ind) & df["数值"].notna()]
            if d.empty:
                continue
            out.append(_row(sel, cat.loc[ind], d))
    keep = [j for j in range(len(HEADERS)) if any(r[j] != "—" for r in out)]  # one region: no 最低/最高
    return [i18n.t(HEADERS[j], sel.lang) for j in keep], [[r[j] for j in keep] for r in out]


def _row(sel: Selection, c: pd.Series, d: pd.DataFrame) -> list[str]:
    dec = fmt.decimals_for(c["unit"], c["kind"], c["decimals"])
    first, last = d["时期起始日"].min(), d["时期起始日"].max()
    label = dict(zip(d["时期起始日"], d["时期"]))
    latest = d[d["时期起始日"] == last]
    span = label[first] if first == last else f"{label[first]}—{label[last]}"
    value = yoy = low = high = "—"
    if latest["区划代码"].nunique() == 1:
        v = float(latest["数值"].iloc[0])
        value = fmt.number(v, dec)
        before = d[d["时期起始日"] == last - pd.DateOffset(years=1)]
        change = metrics.change(c["kind"], v, before["数值"].iloc[0] if len(before) else None)
        yoy = change.signed(sel.lang) if change is not None else "—"
    else:
        lo, hi = latest.loc[latest["数值"].idxmin()], latest.loc[latest["数值"].idxmax()]
        low = f"{fmt.number(lo['数值'], dec)}（{lo['区划名称']}）"
        high = f"{fmt.number(hi['数值'], dec)}（{hi['区划名称']}）"
    return [c["name_zh"], i18n.unit(c["unit"], sel.lang), span, label[last], f"{latest['区划代码'].nunique():,}",
            value, yoy, low, high]
