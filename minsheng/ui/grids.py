"""The 数据 page's grid as a reader sees it: names first, no internal ids, values in their indicator's
precision, headers and words in the UI language, columns wide enough for what they hold.

The files (minsheng/export.py) keep every column as it is stored; only the screen is shaped here.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from minsheng import fmt, i18n, vocab
from minsheng.ingest import contract
from minsheng.selection import Selection

# on screen, in this order; 指标编码 (an internal id) and 时期起始日 (the 时期 again) stay in the files only
SHOWN = ("指标名称", "区划名称", "区划代码", "级别", "时期", "数值", "单位", "分子", "分母", "下级最小值", "下级最大值",
         "口径", "数据状态", "来源", "承继后区划代码")
NUMBERS = ("数值", "分子", "分母", "下级最小值", "下级最大值")
WORDS = ("级别", "口径", "数据状态")  # stored as Chinese words of a closed vocabulary: translated one by one
PX_PER_COLUMN = 8  # one display column (half a CJK character) at the grid's 14 px type, with a margin of 24 px


def table(df: pd.DataFrame, indicators: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The export's rows (Chinese headers, minsheng/export.py COLUMNS) for the screen."""
    cat = indicators.set_index("id")
    ids = df["指标编码"]
    places = [fmt.decimals_for(cat.at[i, "unit"], cat.at[i, "kind"], cat.get("decimals", {}).get(i)) if i in cat.index
              else 2 for i in ids]
    out = df.copy()
    for col in NUMBERS:  # rounded, not turned into text: the grid still sorts them as numbers
        out[col] = [None if pd.isna(v) else round(float(v), p) for v, p in zip(pd.to_numeric(out[col]), places)]
    same = out["承继后区划代码"].isna() | (out["承继后区划代码"] == out["区划代码"])
    drop = [c for c in ("分子", "分母", "下级最小值", "下级最大值") if out[c].isna().all()]
    drop += ["承继后区划代码"] if same.all() else []
    if lang == "en":
        out = _english(out, cat, ids)
    out = out[[c for c in SHOWN if c not in drop]]
    return out.rename(columns={c: i18n.t(c, lang) for c in out.columns})


def _english(out: pd.DataFrame, cat: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """Names, periods, units and words in English; a 万 amount counted out in whole units (fmt.english_amount)."""
    en = cat["name_en"].where(cat["name_en"].fillna("") != "", cat["name_zh"]) if "name_en" in cat else cat["name_zh"]
    freq = ids.map(cat["frequency"])
    scaled = out["单位"].map(lambda u: fmt.english_scaled(u or ""))
    for col in NUMBERS:
        out[col] = [round(v * 1e4) if s and pd.notna(v) else v for v, s in zip(out[col], scaled)]
    return out.assign(
        指标名称=ids.map(en).fillna(out["指标名称"]),
        时期=[fmt.period_label(p, f, "en") for p, f in zip(out["时期起始日"], freq)],
        单位=[i18n.unit(u[1:] if s else u, "en") for u, s in zip(out["单位"].fillna(""), scaled)],
        # a row's level in the singular ("County"); the level picker's words are plurals ("Counties")
        **{c: out[c].map(lambda w, c=c: i18n.t(w, "en", context=c) if isinstance(w, str) else w) for c in WORDS},
    )


def text_px(values, header, cap: int) -> int:
    """Pixels for a grid column wide enough for its header and its longest value (a CJK character takes
    two display columns), at most `cap`."""
    longest = max([fmt.width(str(header))] + [fmt.width(str(v)) for v in list(values)[:500] if pd.notna(v)])
    return min(cap, 24 + PX_PER_COLUMN * longest)


def column_config(shown: pd.DataFrame) -> dict:
    """Widths from the longest text in each column (a CJK character counts double), capped so that one
    long source does not push the values off screen; numbers localized (grouped, no trailing zeros)."""
    config = {}
    numbers = {i18n.t(c, lang) for c in NUMBERS for lang in i18n.LANGS}
    for col in shown.columns:
        px = text_px(shown[col], col, 360)
        if col in numbers:
            config[col] = st.column_config.NumberColumn(format="localized", width=px)
        else:
            config[col] = st.column_config.TextColumn(width=px)
    return config


def widths(shown: pd.DataFrame) -> dict:
    """Text columns as wide as their longest value (部门 "行政审批服务局" was cut to "行政审批服"); a page
    adds its own number and progress columns over these."""
    config = {}
    for col in shown.columns:
        if pd.api.types.is_numeric_dtype(shown[col]):
            continue
        config[col] = st.column_config.TextColumn(width=text_px(shown[col], col, 420))
    return config


def caption(sel: Selection, indicators: pd.DataFrame, names: dict) -> list[tuple[str, str]]:
    """The filter as the page words it: indicator names and units, no ids (the XLSX 说明 keeps them)."""
    cat = indicators.set_index("id")

    def name(i: str) -> str:
        en = cat.at[i, "name_en"] if "name_en" in cat else None
        return en if sel.lang == "en" and isinstance(en, str) and en else cat.at[i, "name_zh"]

    t = sel.t
    level = t("本级") if sel.level is None else t(vocab.LEVELS.label(sel.level))
    open_, close, sep = (" (", ")", "; ") if sel.lang == "en" else ("（", "）", "；")
    out = [(t("指标"), sep.join(f"{name(i)}{open_}{i18n.unit(cat.at[i, 'unit'], sel.lang) or cat.at[i, 'unit']}{close}"
                              for i in sel.indicators if i in cat.index)),
           (t("区域"), f"{sel.region_name}{open_}{sel.region}{close}"), (t("级别"), level),
           (t("时期"), t("{a} 至 {b}", a=f"{sel.start:%Y-%m}", b=f"{sel.end:%Y-%m}"))]
    if sel.within:
        out.append((t("限定区划"), "、".join(names.get(c, c) for c in sel.within)))
    return out



def in_reading_order(t: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """A trend table by period, then its regions in the tree's order (the region first, then the ones below)."""
    rank = {c: i for i, c in enumerate(order)}
    return (t.assign(_rank=t["region_code"].map(rank).fillna(len(rank)))
             .sort_values(["period", "_rank"], kind="stable").drop(columns="_rank"))


def changes_config(shown: pd.DataFrame, first: int) -> dict:
    """同比/环比 columns (from position `first` on) signed with one decimal, as the cards write them."""
    values = {shown.columns[first - 1]: st.column_config.TextColumn(alignment="right")}  # 数值, text with 未报
    return values | {c: st.column_config.NumberColumn(format="%+.1f") for c in shown.columns[first:]}


def preview(changes: pd.DataFrame, kind: str, indicators: pd.DataFrame, names: dict) -> pd.DataFrame:
    """The 导入 page's 原 → 新 table in the template's words: headers as the template writes them, an
    indicator by its name, a region by its name beside its code, terms by their labels (初步, 正式),
    numbers in the indicator's precision (more where the file has more, up to two: fmt.exact)."""
    spec = contract.KINDS[kind]
    fields = {c.name: c for c in spec.columns}
    cat = indicators.set_index("id")
    ids = changes["indicator_id"] if "indicator_id" in changes else pd.Series([None] * len(changes))
    places = [fmt.decimals_for(cat.at[i, "unit"], cat.at[i, "kind"]) if i in cat.index else 0 for i in ids]
    freqs = [cat.at[i, "frequency"] if i in cat.index else "month" for i in ids]

    def word(base: str, v, p: int, freq: str = "month") -> str:
        col = fields.get(base)
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return "（空）"
        if base == "indicator_id":
            return str(cat["name_zh"].get(v, v))
        if col is not None and col.choices is not None and col.choices.terms is not None:
            return col.choices.terms.label(v)
        if isinstance(v, float | int) and not isinstance(v, bool):
            return fmt.exact(float(v), p if base == "value" else 0)
        if base == "period" and hasattr(v, "year"):
            return fmt.period_label(v, freq)
        return str(v)[:10] if hasattr(v, "year") else str(v)

    out = pd.DataFrame(index=changes.index)
    moved = [c[:-3] for c in changes.columns if c.endswith("（原）")]
    for c in spec.keys:
        header = fields[c].header if c in fields else c
        if c == "indicator_id":
            header = "指标名称"
        out[header] = [word(c, v, p, f) for v, p, f in zip(changes[c], places, freqs)]
        if c == "region_code":
            out.insert(len(out.columns) - 1, "区划名称", changes[c].map(names).fillna(""))
    said = []
    for j in range(len(changes)):
        parts = []
        for c in moved:
            old, new = word(c, changes[f"{c}（原）"].iloc[j], places[j]), word(c, changes[c].iloc[j], places[j])
            if old != new:
                parts.append(f"{fields[c].header if c in fields else c}：{old} → {new}")
        said.append("；".join(parts))
    out["修改内容"] = said
    for c in moved:
        header = fields[c].header if c in fields else c
        out[f"{header}（原）"] = [word(c, v, p) for v, p in zip(changes[f"{c}（原）"], places)]
        out[header] = [word(c, v, p) for v, p in zip(changes[c], places)]
    return out.reset_index(drop=True)


def show(df: pd.DataFrame, empty: str, **kwargs) -> None:
    """A read-only grid, or `empty` said in words when it has no rows (an empty grid draws Glide's own
    English "empty")."""
    if df.empty:
        st.caption(empty)
        return
    st.dataframe(df, placeholder="—", hide_index=True, width="stretch", **kwargs)
