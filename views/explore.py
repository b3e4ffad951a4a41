"""数据: filter by indicator, level, regions and period; look at the table; download CSV or XLSX."""

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import export, slides, summary, vocab
from minsheng.selection import Selection
from minsheng.ui import data, exports, frame, grids, paging, state, text

DEFAULT = ["mz_dibao_urban_persons"]
PREVIEW = 5_000  # rows drawn on the page; the downloads stream every row
ROWS_PER_SLIDE = 16  # table rows on a slide in presentation mode
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def levels_below(level: str) -> list[str]:
    """The levels a region's table can be broken down to: those below it that the user's regions have
    (a city: counties, townships and, where villages are loaded, villages)."""
    present = set(data.tree().levels.values())
    below = vocab.LEVELS.codes[vocab.LEVELS.codes.index(level) + 1:] if level in vocab.LEVELS.codes else ()
    return [lv for lv in below if lv in present]


def inputs(sc: Selection, indicators: pd.DataFrame, years: list[int]) -> Selection:
    c1, c2 = st.columns([3, 2])
    with c1:
        chosen = state.choice(st.multiselect, T("指标"), list(indicators["id"]), key="xinds", default=DEFAULT,
                              multi=True, format_func=frame.indicator_label(indicators), placeholder=T("请选择指标"))
    with c2:
        level = state.choice(st.segmented_control, T("级别"), ["self", *levels_below(sc.region_level)], key="xlevel",
                             default="self", format_func=lambda v: T("本级") if v == "self" else T(vocab.LEVELS.label(v)))
        level = None if level in (None, "self") else level
    c3, c4, c5 = st.columns([3, 1, 1])
    picked = []
    if level:
        with c3:
            in_level = data.regions_below(sc, sc.region, level)
            label = data.tree().label
            picked = state.choice(st.multiselect, T("限定区划（不选即全部）"), list(in_level["code"]), key="xregs",
                                  default=[], multi=True, format_func=label, placeholder=T("全部"))
    with c4:
        y0 = state.choice(st.selectbox, T("起始年"), years, key="from", default=max(sc.year - 2, min(years)), parse=int)
    with c5:
        y1 = state.choice(st.selectbox, T("结束年"), [y for y in years if y >= y0], key="to", default=max(sc.year, y0),
                          parse=int)
    return sc.with_(indicators=chosen, level=level, within=picked, start=dt.date(y0, 1, 1), end=dt.date(y1, 12, 1))


def load(sel: Selection) -> tuple[int, pd.DataFrame]:
    """How many rows the files will hold, and the first of them for the page."""
    return data.export_preview(sel, PREVIEW)


def render(sel: Selection, total: int, df: pd.DataFrame) -> None:
    shown = (T("共 {n} 行", n=f"{total:,}") if total <= len(df) else
             T("共 {n} 行，页面显示前 {shown} 行；下载文件包含全部行。", n=f"{total:,}", shown=f"{len(df):,}"))
    colon = ": " if sel.lang == "en" else "："
    described = grids.caption(sel, data.indicators(), data.tree().labels)
    st.caption(text.md(" · ".join(f"{k}{colon}{v}" for k, v in described) + " · " + shown))
    grid = grids.table(df, data.indicators(), sel.lang)  # names first, no ids, values in their precision
    for part in paging.show(paging.rows(grid, ROWS_PER_SLIDE)):  # presentation mode: a page of rows a slide
        st.dataframe(part, placeholder="—", hide_index=True, width="stretch", **paging.grid(len(part), cap=600),
                     column_config=grids.column_config(grid))
    if not exports.allowed():
        return
    # the files are built later, on another thread: the selection (with the user's area) is taken now
    stem, what = export.file_stem(sel), sel.audit(rows=total)
    c1, c2, c3, c4 = st.columns([1, 1, 1, 3])
    encoding = state.choice(c3.selectbox, T("CSV 编码"), export.ENCODINGS, key="xenc", default=export.ENCODINGS[0],
                            format_func=lambda e: T(export.ENCODING_LABELS[e]), label_visibility="collapsed")
    csv_label = T("下载 CSV") + ("" if encoding == export.ENCODINGS[0] else f"（{T(export.ENCODING_LABELS[encoding])}）")
    c1.download_button(csv_label, exports.audited(lambda: export.payload(sel, "csv", encoding=encoding), format="csv",
                                                  encoding=encoding, **what),
                       file_name=f"{stem}.csv", mime="text/csv", icon=":material/download:", key="dl_csv",
                       on_click="ignore")
    c2.download_button(T("下载 XLSX"), exports.audited(lambda: export.payload(sel, "xlsx"), format="xlsx", **what),
                       file_name=f"{stem}.xlsx", mime=XLSX_MIME, icon=":material/download:", key="dl_xlsx",
                       on_click="ignore")
    c4.caption(T("CSV 默认为带 BOM 的 UTF-8，Excel/WPS 直接打开不乱码；旧系统要求时可选 GBK。区划代码在表格软件中保持为文本。"
                 "XLSX 另含“说明”工作表（筛选条件、单位、来源、数据日期）。"))
    exports.deck_button(sel, lambda: deck_parts(sel), df["来源"].dropna().unique().tolist(), rows=total)


def deck_parts(sel: Selection) -> list:
    """A summary per indicator over every row of the selection (the XLSX holds the rows themselves)."""
    headers, rows = summary.rows(sel)
    return [slides.Table(T("指标摘要（{period}）", period=sel.when()), headers, rows)]


sc, T = frame.start()
indicators = data.indicators()
with frame.controls():
    sel = inputs(sc, indicators, sorted(frame.available_years()))
df = pd.DataFrame()
if not sel.indicators:
    st.info(T("请至少选择一个指标。"))
else:
    total, df = load(sel)
    if df.empty:
        st.info(T("所选条件下没有数据。可以放宽时期、改选级别或指标。"))
    else:
        render(sel, total, df)
frame.footer(sel, df["来源"].dropna().unique().tolist() if "来源" in df else [])
