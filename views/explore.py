"""数据: filter by indicator, level, regions and period; look at the table; download CSV or XLSX."""

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import export, fmt, slides, vocab
from minsheng.ui import data, exports, frame, state

DEFAULT = ["mz_dibao_urban_persons"]
PREVIEW = 5_000  # rows drawn on the page; the downloads stream every row


def inputs(sc: frame.Scope, indicators: pd.DataFrame, years: list[int]) -> dict:
    ids = list(indicators["id"])
    c1, c2 = st.columns([3, 2])
    with c1:
        chosen = state.choice(st.multiselect, T("指标"), ids, key="xinds", default=DEFAULT, multi=True,
                              format_func=frame.indicator_label(indicators))
    with c2:
        levels = [None] + [lv for lv in ("county", "township") if lv != sc.level and
                           (sc.level == "city" or lv == "township") and sc.level != "township"]
        level = state.choice(st.segmented_control, T("级别"), ["self"] + [lv for lv in levels if lv], key="xlevel",
                             default="self", format_func=lambda v: T("本级") if v == "self" else T(vocab.LEVELS.label(v)))
        level = None if level in (None, "self") else level
    c3, c4, c5 = st.columns([3, 1, 1])
    with c3:
        picked = []
        if level:
            q0 = export.Query([], sc.region, level, dt.date(1900, 1, 1), dt.date(2999, 1, 1), area=data.area())
            in_level = export.regions_in_scope(q0)
            names = dict(zip(data.regions()["code"], data.regions()["name"]))
            picked = state.choice(st.multiselect, T("限定区划（不选即全部）"), in_level, key="xregs", default=[],
                                  multi=True, format_func=lambda c: names.get(c, c), placeholder=T("全部"))
    lo = min(years)
    with c4:
        y0 = state.choice(st.selectbox, T("起始年"), years, key="from", default=sc.year - 2 if sc.year - 2 >= lo else lo,
                          parse=int)
    with c5:
        y1 = state.choice(st.selectbox, T("结束年"), [y for y in years if y >= y0], key="to", default=max(sc.year, y0),
                          parse=int)
    return dict(ids=chosen, level=level, regions=picked or None, date_from=dt.date(y0, 1, 1),
                date_to=dt.date(y1, 12, 1))


sc = frame.scope()
T = frame.translator(sc.lang)
indicators = data.indicators()
frame.header("数据", sc)
with frame.controls():
    f = inputs(sc, indicators, sorted(frame.available_years()))
df = pd.DataFrame()
if not f["ids"]:
    st.info(T("请至少选择一个指标。"))
else:
    # The user's area goes into every query behind the table and the files (captured now: the
    # download callables run after this script run, outside the session).
    q = export.check(f["ids"], sc.region, f["level"], f["date_from"], f["date_to"], f["regions"], area=data.area())
    total, df = data.export_preview(q, PREVIEW)
    if df.empty:
        st.info(T("所选条件下没有数据。可以放宽时期、改选级别或指标。"))
    else:
        shown = (T("共 {n} 行", n=f"{total:,}") if total <= len(df) else
                 T("共 {n} 行，页面显示前 {shown} 行；下载文件包含全部行。", n=f"{total:,}", shown=f"{len(df):,}"))
        st.caption(" · ".join(f"{k}：{v}" for k, v in q.description) + " · " + shown)
        # on screen, leave out the optional columns nothing in this table fills (the files keep them)
        optional = [c for c in ("分子", "分母", "下级最小值", "下级最大值") if df[c].isna().all()]
        st.dataframe(df.drop(columns=optional), hide_index=True, width="stretch", height=min(600, 36 * len(df) + 40),
                     column_config={c: st.column_config.NumberColumn(format="localized")
                                    for c in ("数值", "分子", "分母", "下级最小值", "下级最大值")})
        stem = f"民生指标_{sc.region_name}_{f['date_from']:%Y}-{f['date_to']:%Y}"
        if exports.allowed():
            what = dict(page="数据", region=sc.region, level=f["level"], regions=f["regions"], indicators=f["ids"],
                        period=f"{f['date_from']:%Y}-{f['date_to']:%Y}", rows=total)
            c1, c2, c3 = st.columns([1, 1, 3])
            c1.download_button(T("下载 CSV"), exports.audited(lambda: export.payload(q, "csv"), format="csv", **what),
                               file_name=f"{stem}.csv", mime="text/csv", icon=":material/download:", key="dl_csv",
                               on_click="ignore")
            c2.download_button(T("下载 XLSX"), exports.audited(lambda: export.payload(q, "xlsx"), format="xlsx", **what),
                               file_name=f"{stem}.xlsx",
                               mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                               icon=":material/download:", key="dl_xlsx", on_click="ignore")
            c3.caption(T("CSV 为带 BOM 的 UTF-8，Excel/WPS 直接打开不乱码；XLSX 另含“说明”工作表（筛选条件、单位、来源、数据日期）。"))
            exports.deck_button(sc, "数据", lambda: deck_parts(df, total), df["来源"].dropna().unique().tolist(),
                                detail=dict(indicators=f["ids"], level=f["level"], rows=total))


def deck_parts(df: pd.DataFrame, total: int | None = None, limit: int = 60) -> list:
    """The table as native PPTX tables (the first `limit` rows: a deck is for reading, the XLSX for data)."""
    total = len(df) if total is None else total
    cols = ["指标名称", "区划名称", "时期", "数值", "单位"]
    rows = [[str(r[0]), str(r[1]), str(r[2]), fmt.number(r[3], 2 if r[3] % 1 else 0), str(r[4])]
            for r in df[cols].head(limit).itertuples(index=False)]
    title = "、".join(dict.fromkeys(df["指标名称"])) + (f"（前 {limit} 行，共 {total} 行）" if total > limit else "")
    return [slides.Table(title, cols, rows)]
frame.footer(sc, df["来源"].dropna().unique().tolist() if "来源" in df else [])
