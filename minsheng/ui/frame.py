"""The frame every page shares: region and year in the sidebar, the title line and the footer.

The router draws the sidebar once per run (`sidebar`), which settles the frame's `Selection` —
region, year, language, data version, the user's area and the page being shown; a page starts
from it (`scope`) and adds its own choices with `Selection.with_`.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import duckdb
import pandas as pd
import streamlit as st

from minsheng import fmt, i18n, literal, store
from minsheng.selection import Selection
from minsheng.ui import data, pages, session, state
from minsheng.ui.text import T, lang, md, name, translator, unit

_SCOPE = "_ms_scope"  # this run's frame selection, set by sidebar()


def available_years() -> list[int]:
    p = data.periods()
    if p.empty:
        return []
    first = pd.Timestamp(p["first_period"].min()).year
    last = pd.Timestamp(p["last_period"].max()).year
    return list(range(last, first - 1, -1))


def data_problem() -> str | None:
    """A message for the user when the data cannot be read, else None (the router then stops).

    A damaged current version (bad checksum, unreadable Parquet, a torn CURRENT) does not stop
    the pages: they read the newest whole version (store.reading), and this says so — in full to
    admins, who can roll back, in one line to everyone else. No server path is ever shown."""
    try:
        fallback = store.reading(store.data_dir()).problem
        if fallback:
            if session.can("rollback"):
                st.warning(md(fallback), icon=":material/warning:")
            else:
                st.info(T("数据正在维护，页面暂时显示较早的数据版本。"), icon=":material/info:")
        if not data.tree().order and not data.first_run():  # a new store: the first-run page says what to load
            if data.area():
                return T("你的区域（{area}）不在区划表中，无法显示数据。请联系管理员核对账户的区域设置。",
                         area=md(data.area()))
            return T("数据目录中没有区划数据。可运行 python -m minsheng demo 生成演示数据。")
    except (FileNotFoundError, store.StoreError) as e:  # both carry Chinese messages without paths
        return T("无法读取数据：{error}", error=md(e))
    except duckdb.Error:  # DuckDB's messages name the server's files: say what to do instead
        return T("数据文件无法读取（可能已损坏）。请管理员运行 python -m minsheng check 核查。")
    return None


def _normalise_url(tree) -> None:
    """A link's region written as a short code (430204) or a name (株洲市) becomes the code, before the
    picker reads it: a link typed by hand or pasted from a report still opens the region."""
    asked = st.query_params.get("region")
    if asked and asked not in tree and state.reads_url("region"):
        found = tree.find(asked)
        if found:
            state.url_set("region", found)


def _year_fallback(years: list[int]) -> str | None:
    """The year named in the URL when there is no data for it (it then falls back, and says so)."""
    asked = st.query_params.get("year")
    if not asked or not state.reads_url("year"):
        return None
    try:
        return None if int(asked) in years else asked
    except ValueError:
        return asked


def _out_of_area(options: list[str]) -> str | None:
    """The region named in the URL when the user may not see it (it then falls back to their area)."""
    asked = state.url_get("region")  # as normalised
    if asked and asked not in options and state.reads_url("region"):
        return asked
    return None


def sidebar(page: pages.Page) -> Selection:
    """Draw the shared filters (region, year) and settle this run's frame selection for `page`;
    the router calls it once per run, before the page."""
    st.session_state.pop(_SCOPE, None)
    meta = data.meta()
    tree = data.tree()
    _normalise_url(tree)
    # the picker lists the neighbourhood of the region the URL names when this run reads it (a link, Back)
    order = tree.picker((state.url_get("region") if state.reads_url("region") else None) or state.get("region"))
    T = translator(lang())  # noqa: N806 (the same name as the module-level helper, bound to this run's language)
    with st.sidebar:
        st.markdown(f"### {T('民生指标看板')}")
        if meta.get("demo"):
            st.caption(f":orange-badge[{T('演示数据')}] {T('围绕公开报道数字生成，非官方统计')}")
        denied = _out_of_area(order)
        region = state.choice(st.selectbox, T("区域"), order, key="region", default=order[0],
                              format_func=tree.indented,
                              help=T("可输入名称搜索；选择后各页面同步") if len(order) == len(tree.order) else
                              T("列出当前区域的上级与下级；选中下级后可继续向下选择"))
        years = available_years()
        bad_year = _year_fallback(years)
        default_year = pd.Timestamp(meta["data_date"]).year if meta.get("data_date") else years[0]
        year = state.choice(st.selectbox, T("年度"), years, key="year", default=default_year, parse=int,
                            format_func=lambda y: T("{year}年", year=y))
        st.caption(T("数据截至 {date}", date=md(fmt.date_label(meta.get("data_date"), lang()))))
        present = state.value(st.toggle, T("演示模式"), key="present", default=False, parse=lambda s: s == "1",
                              valid=lambda v: isinstance(v, bool), serialize=lambda v: "1" if v else "0",
                              help=T("隐藏侧栏和工具栏，16:9 版式、大字号，截图即可作为汇报幻灯片（网址加 ?present=1 亦可）"))
        state.choice(st.segmented_control, T("语言"), list(i18n.LANGS), key="lang", default="zh",
                     format_func=i18n.LANGS.get)
        _pending_toggle(T)
    if denied:
        shown, denied = md(tree.label(order[0])), md(denied[:20])  # the code is the URL's
        if data.area():
            st.error(T("无权限：区域 {code} 不在你可查看的范围内，已改为显示 {name}。", code=denied, name=shown),
                     icon=":material/block:")
        else:
            st.warning(T("没有区域 {code}，已改为显示 {name}。", code=denied, name=shown))
    if bad_year:  # as a bad region does: a link to a year without data does not silently show another
        st.warning(T("没有 {asked} 年的数据，已改为显示 {shown}。", asked=md(bad_year[:10]), shown=T("{year}年", year=year)))
    sc = Selection(region=region, region_name=tree.label(region), region_level=tree.levels[region], year=int(year),
                   data_date=meta.get("data_date"), demo=bool(meta.get("demo")), pending=data.pending_on(),
                   present=bool(present), lang=lang(),
                   area=data.area(), version=data.version(), page=page.title)
    st.session_state[_SCOPE] = sc
    st.html(f"<style>{NARROW_CSS}</style>")  # style only: Streamlit puts it out of the page's flow
    if sc.present:
        st.html(f"<style>{PRESENT_CSS}</style>")
    return sc


def _pending_toggle(T) -> None:  # noqa: N803 (the run's translator)
    """含未审核数据: offered while returns in the user's area await review (or while it is on). The run reads
    them from the next run on (data.begin_run), so flipping it reruns the page at once."""
    n = data.pending_count()
    if not n and not st.session_state.get(data.PENDING):
        return
    st.toggle(T("含未审核数据"), key=data.PENDING,
              help=T("把已上报、尚未审核通过的 {n} 份报表数据计入各页数字；页面、图片、汇报材料和导出文件都会标注"
                     "“含未审核数据”，其来源标注“（未审核）”", n=n))
    if data.pending_problem():
        st.caption(md(T("未能加入未审核数据：{error}", error=data.pending_problem())))


def first_run_sidebar(page: pages.Page) -> Selection:
    """The frame of a new store, with no regions or years to pick: the way to the first-run page and,
    for admins, to 导入; settles a selection with no region for the page."""
    st.session_state.pop(_SCOPE, None)
    with st.sidebar:
        st.markdown(f"### {T('民生指标看板')}")
        st.page_link(pages.START.script, label=T(pages.START.title), icon=pages.START.icon)
        if session.can("import"):
            imp = pages.get("import")
            st.page_link(imp.script, label=T(imp.title), icon=imp.icon)
    sc = Selection(region="", region_name=T("新数据目录"), region_level="", year=dt.date.today().year,
                   data_date=data.meta().get("data_date"), area=data.area(), version=data.version(), page=page.title)
    st.session_state[_SCOPE] = sc
    return sc


def scope() -> Selection:
    """This run's frame selection (the router's sidebar settled it before the page runs)."""
    sc = st.session_state.get(_SCOPE)
    if not isinstance(sc, Selection):
        raise RuntimeError("页面须经由 dashboard.py 运行（侧栏尚未确定区域与年度）")
    return sc


# Presentation mode: no sidebar or Streamlit chrome, a 16:9 white page with large type, the
# page's filters hidden (they still apply), a title line and a footer — a screenshot is a slide.
PRESENT_CSS = """
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"], footer,
.st-key-ms_controls, [data-testid="stExpander"], [data-testid="stDownloadButton"], [data-testid="stBaseButton-secondary"]
  { display: none !important; }
.stApp, [data-testid="stMain"] { background: #ffffff !important; }
[data-testid="stMain"] .block-container {
  max-width: min(100vw, calc(100vh * 16 / 9)); padding: 1.6rem 3.2rem 3.6rem 3.2rem; margin: 0 auto; }
html { font-size: 19px; }
[data-testid="stMetricValue"] { font-size: 2.3rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.05rem !important; }
h1 { display: none; }
/* the wrappers of what is hidden, so their gaps go too: the title's, the filters', rows of download buttons
   (with what stands beside them: 数据's encoding picker and its note) */
[data-testid="stElementContainer"]:has(h1), [data-testid="stLayoutWrapper"]:has(> .st-key-ms_controls),
[data-testid="stElementContainer"]:has(> [data-testid="stDownloadButton"]),
[data-testid="stLayoutWrapper"]:has([data-testid="stDownloadButton"]):not(:has([data-testid="stMetric"],
  [data-testid="stPlotlyChart"], [data-testid="stDataFrame"], [data-testid="stDeckGlJsonChart"]))
  { display: none !important; }
.ms-slide-title { font-size: 2.1rem; font-weight: 700; color: #1a1a1a; margin: 0 0 .6rem 0;
  border-bottom: 3px solid #0072B2; padding-bottom: .4rem; }
.ms-slide-title span { font-weight: 400; color: #555; font-size: 1.4rem; margin-left: .8rem; }
.ms-slide-footer { position: fixed; left: 0; right: 0; bottom: 0; padding: .45rem 3.2rem; background: #f4f6f8;
  border-top: 1px solid #dde3e8; font-size: .8rem; color: #444; display: flex; justify-content: space-between; z-index: 999; }
.ms-slide-footer a { color: #888; text-decoration: none; white-space: nowrap; margin-left: 1.5rem; }
.ms-matrix th, .ms-matrix td { padding: .12rem .4rem !important; line-height: 1.25; }
[data-testid="stTooltipIcon"] { display: none !important; }
[data-testid="stLayoutWrapper"]:has(> .st-key-ms_slide_nav) { position: fixed; top: 1.7rem; right: 3.2rem; z-index: 1000;
  width: auto !important; background: #ffffff; }
.st-key-ms_slide_nav { flex-wrap: nowrap; }
.st-key-ms_slide_nav p { font-size: .8rem; margin: 0; white-space: nowrap; }
.st-key-ms_slide_nav button p { color: #666; }
"""

# A phone (a link opened from a 企业微信/钉钉 group): one column, the numbers large, nothing wider than
# the screen, and every control a finger can hit (≥ 44 px, as Apple's and Android's guides ask).
NARROW_CSS = """
@media (max-width: 640px) {
  [data-testid="stMain"] .block-container { padding-left: .9rem; padding-right: .9rem; max-width: 100vw; }
  [data-testid="stMain"] { overflow-x: hidden; }
  [data-testid="stMetricValue"] { font-size: 2.4rem !important; }
  /* touch targets: buttons, links (the page menu's too), the fields of selects and inputs, toggles, slider thumbs */
  :is([data-testid="stMain"], [data-testid="stSidebar"]) :is(button, a[href]), [data-testid="stHeader"] button
    { min-height: 44px; min-width: 44px; }
  :is([data-testid="stMain"], [data-testid="stSidebar"]) :is([role="group"]:has([role="combobox"]),
    [data-testid="stNumberInputContainer"], [data-testid="stTextInputRootElement"], summary) { min-height: 44px; }
  [data-testid="stMain"] [data-testid="stNumberInputContainer"] input { min-height: 42px; }
  :is([data-testid="stMain"], [data-testid="stSidebar"]) :is([data-testid="stCheckbox"], [data-testid="stRadio"] [role="radiogroup"]) label
    { min-height: 44px; display: flex; align-items: center; }
  [data-testid="stMain"] [data-testid="stSlider"] div:has(> div > input[type="range"]) {
    box-sizing: content-box; border: 16px solid transparent; background-clip: padding-box; }
  [data-testid="stMain"] [data-testid="stSlider"] { padding: 0 14px; }  /* the end thumbs' hit areas stay on screen */
  [data-testid="stMain"] [data-testid="stHeaderActionElements"], [data-testid="stTooltipIcon"],
  [data-testid="stMain"] .modebar-container { display: none; }
  /* 地图: the ranking (names and numbers) first, the map under it */
  [data-testid="stMain"] [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] [data-testid="stDeckGlJsonChart"])
    { flex-direction: column-reverse; }
  /* 总览's status summary two by two, not four rows of one */
  .st-key-ms_status [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
  .st-key-ms_status [data-testid="stColumn"] { flex: 1 1 calc(50% - 1rem) !important; min-width: calc(50% - 1rem) !important; }
  .ms-slide-footer { position: static; padding: .45rem .9rem; flex-wrap: wrap; }
}
"""


def start(period: str | None = None):
    """A page's first line: this run's frame selection, the page's title drawn, and the translator
    bound to the run's language (for the page's strings and its widgets' format functions)."""
    sc = scope()
    header(sc, period)
    return sc, translator(sc.lang)


def header(sc: Selection, period: str | None = None) -> None:
    """The page's title (from the registry) and the line under it: region, period, data date."""
    title = T(sc.page)
    period = period or T("{year}年", year=sc.year)
    st.title(title)
    if sc.present:
        period += f" · {T('含未审核数据')}" if sc.pending else ""
        st.html(f"<div class='ms-slide-title'>{literal.html(title)}<span>{literal.html(sc.region_name)} · "
                f"{literal.html(period)}</span></div>")
        return
    bits = [sc.region_name, period] + ([sc.dated()] if sc.data_date else [])  # a new store has no date yet
    st.caption(md(" · ".join(bits)) + (f"　:blue-badge[{T('含未审核数据')}]" if sc.pending else "")
               + (f"　:orange-badge[{T('演示数据')}]" if sc.demo else ""))
    if sc.pending:
        st.warning(T("本页含未审核数据：已上报、尚未经上级审核通过的报表数据已计入各项数字，来源标注“（未审核）”。"
                     "关闭侧栏“含未审核数据”即只看审核通过的数据。"), icon=":material/pending:")


def controls():
    """The container for a page's filters; presentation mode hides it (the filters still apply)."""
    return st.container(key="ms_controls")


def footer(sc: Selection, sources: list[str] | None = None) -> None:
    src = "；".join(fmt.sources(sources or [])) or "—"
    text = (T("区域：{region}（{code}）　来源：{sources}　数据日期：{date}", region=sc.region_name, code=sc.region,
              sources=src, date=fmt.date_label(sc.data_date, sc.lang)) + (T("　含未审核数据") if sc.pending else "")
            + (T("　演示数据，非官方统计") if sc.demo else ""))
    if sc.present:
        params = {k: v for k, v in state.url_dict().items() if k != "present"}
        exit_href = "?" + urlencode({**params, "present": "0"})
        st.html(f"<div class='ms-slide-footer'><div>{literal.html(text)}</div>"
                f"<a href='{literal.html(exit_href)}' target='_self'>{literal.html(T('退出演示模式'))}</a></div>")
        return
    st.divider()
    st.caption(md(text))


def indicator_label(ind: pd.DataFrame):
    names = {r["id"]: name(r) for r in ind.to_dict("records")}
    units = {i: unit(u) for i, u in zip(ind["id"], ind["unit"])}
    domains = {i: T(d) for i, d in zip(ind["id"], ind["domain"])}
    return lambda i: f"{domains.get(i, '')}｜{names.get(i, i)}（{units.get(i, '')}）"
