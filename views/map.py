"""地图: an offline choropleth of the chosen region's subdivisions, a ranking beside it, drill-down."""

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import fmt, images, lineage, maps, metrics, slides, vocab
from minsheng.ingest import start
from minsheng.selection import Selection
from minsheng.ui import data, exports, frame, mapview, state, text

DEFAULT = "yb_resident_insured_rate"


def inputs(sc: Selection, indicators: pd.DataFrame) -> Selection:
    ids = list(indicators["id"])
    c1, c2, c3 = st.columns([3, 2, 2])
    with c1:
        ind_id = state.choice(st.selectbox, T("指标"), ids, key="ind", default=DEFAULT,
                              format_func=frame.indicator_label(indicators))
    ind = indicators.set_index("id").loc[ind_id]
    last = pd.Timestamp(data.periods().set_index("indicator_id").loc[ind_id, "last_period"])
    year, month = sc.year, 1
    with c2:
        if ind["frequency"] == "month":
            months = list(range(metrics.last_month(last, sc.year), 0, -1))
            month = state.choice(st.selectbox, T("月份"), months, key="month", default=months[0], parse=int,
                                 format_func=lambda m: fmt.period_label(dt.date(sc.year, m, 1), "month", sc.lang))
        else:
            year = min(sc.year, last.year)  # this year's annual figures may not be out yet
            st.text_input(T("时期"), T("{year}年（年度数据）", year=year), disabled=True)
    with c3:
        if sc.region_level in ("province", "city"):  # a province's cities or counties; a city's counties or townships
            options = ["city", "county"] if sc.region_level == "province" else ["county", "township"]
            level = state.choice(st.segmented_control, T("显示层级"), options, key="maplevel", default=options[0],
                                 format_func=lambda v: T(vocab.LEVELS[v].group)) or options[0]
        else:  # a county's townships; a township among its neighbours
            level = "township" if sc.region_level == "county" else sc.region_level
            st.text_input(T("显示层级"), T(vocab.LEVELS[level].group), disabled=True)
    period = dt.date(year, month, 1)
    # the year before is read too, for 同比
    return sc.with_(indicators=(ind_id,), level=level, start=period, end=period, history=1, grain=ind["frequency"])


def shown_regions(sel: Selection) -> tuple[pd.DataFrame, str | None]:
    """The regions drawn, and the one to outline: a city's or county's subdivisions at the level;
    for a township, it and its neighbours (those the user may see)."""
    on = lineage.period_end(sel.end, sel.grain)  # a code counts in the periods it is valid in
    if sel.region_level in ("province", "city", "county"):
        return data.regions_below(sel, sel.region, sel.level, on), None
    parent = data.tree().parent.get(sel.region) or sel.region
    return data.regions_below(sel, parent, sel.level, on), sel.region


def load(sel: Selection, shown: pd.DataFrame, ind: pd.Series) -> pd.DataFrame:
    """Each shown region's value in the period, its 同比 and source."""
    s = data.series(sel)
    s = metrics.with_changes(s, {ind.name: ind["kind"]}, {ind.name: ind["frequency"]}) if len(s) else \
        s.assign(yoy=None)
    cur = s[s["period"] == pd.Timestamp(sel.end)].set_index("region_code")
    out = shown[["code", "name", "level", "lon", "lat"]].assign(short=shown["name"])  # short: written on the map
    out["name"] = out["code"].map(data.tree().label)  # two 新华街道 of a city's townships, told apart
    for col in ("value", "yoy", "source"):
        out[col] = out["code"].map(cur[col]) if len(cur) else None
    return out


def render_map(sel: Selection, table: pd.DataFrame, ind: pd.Series, highlight: str | None):
    """The choropleth, its legend and notes, and its image buttons; returns the provenance and the
    static figure's maker for the deck (None when there is nothing to draw)."""
    ind_name, unit = text.name(ind), text.unit(ind["unit"])
    dec = fmt.decimals_for(ind["unit"], ind["kind"], ind.get("decimals"))
    rows = maps.rows(table, lambda v: fmt.value_with_unit(v, ind["unit"], ind["kind"], sel.lang, dec))
    coll = maps.boundaries(sel.level)
    st.markdown(f"**{text.md(f'{ind_name}（{unit}） · {sel.subtitle(dated=False)}')}**")
    prov = exports.provenance(sel, f"{ind_name}（{unit}）", unit, "；".join(sorted(set(table["source"].dropna()))))
    deck = maps.choropleth(coll, rows, highlight)
    if deck is None:  # an official list has neither: say which file draws the map; the ranking stays
        st.info(text.md(start.boundary_note(sel.level)), icon=":material/map:")
        return prov, None
    event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key=mapview.key("map_chart", sel),
                            height=520)
    mapview.open_region(mapview.picked_on_map(event), sel)  # a county drills down, a township opens
    # raw HTML, not markdown with HTML allowed: markdown would still read the escaped text around the tags
    st.html(maps.legend_html(rows, lambda v: fmt.number(v, dec), T("图例（{unit}）：", unit=unit), T("无数据")))
    notes = [T("无底图，离线绘制")]
    if sel.level == "township" and coll and any(ft["properties"].get("synthetic") for ft in coll["features"]):
        notes.append(T("乡镇边界为示意边界，非实际行政界线"))
    st.caption("；".join(notes) + "。" + ("" if sel.present else T("点击地图上的区域或排名中的一行可打开该区域。")))  # a slide is not clicked
    static = lambda: images.map_figure(coll, rows, highlight=highlight,  # noqa: E731
                                      fmt_value=lambda v: fmt.number(v, dec))
    exports.chart_buttons(static, prov, key="map_static", sel=sel)
    return prov, static


def render_ranking(sel: Selection, table: pd.DataFrame, ind: pd.Series, prov, static) -> None:
    ranked = mapview.with_county(metrics.ranked(table, ind["higher_is_better"]))
    show = ranked[["rank", "name", *(["county"] if "county" in ranked else []), "value", "yoy"]].rename(columns={
        "rank": T("排名"), "name": T("区域"), "county": T("所属县区"),
        "value": f"{text.name(ind)}（{text.unit(ind['unit'])}）", "yoy": text.change_label("同比", ind["kind"])})
    dec = fmt.decimals_for(ind["unit"], ind["kind"], ind.get("decimals"))
    vmax = float(table["value"].max()) if table["value"].notna().any() else 1.0
    number_format = f"%.{dec}f"
    # bars for quantities; a rate's differences of a point or two would vanish in a 0–100 bar
    value_column = (st.column_config.NumberColumn(format=number_format) if ind["kind"] in ("rate", "standard")
                    else st.column_config.ProgressColumn(format=number_format, min_value=0.0, max_value=max(vmax, 1e-9)))
    mapview.open_region(mapview.ranking(show, ranked["code"].tolist(), {
        show.columns[-2]: value_column, show.columns[-1]: st.column_config.NumberColumn(format="%+.1f")}, sel), sel)
    tree = data.tree()
    drill = table[[bool(tree.kids(c)) for c in table["code"]]]
    if not drill.empty and not sel.present:  # a slide has no controls
        def drill_down():
            if st.session_state.get("map_drill"):
                state.set_value("region", st.session_state["map_drill"])
                st.session_state["map_drill"] = None

        st.selectbox(T("下钻到"), [None] + drill["code"].tolist(), key="map_drill", on_change=drill_down,
                     format_func=lambda c: "—" if c is None else tree.label(c))
    exports.deck_button(sel, lambda: [
        *([slides.Chart(T("{name}分布（{period}）", name=text.name(ind, sel.lang), period=sel.when()),
                        images.png(static(), prov))] if static else []),
        slides.Table(T("{name}排名（{period}）", name=text.name(ind, sel.lang), period=sel.when()), [str(c) for c in show.columns],
                     [[*map(str, r[:-2]), fmt.number(r[-2], dec), "—" if pd.isna(r[-1]) else f"{r[-1]:+.1f}"]
                      for r in show.itertuples(index=False)])], [prov.source], rows=len(show), what=text.name(ind, sel.lang))
    parent = tree.parent.get(sel.region)  # None at the top of what this user may see
    if parent is not None and st.button(T("返回上级"), icon=":material/arrow_upward:"):
        state.set_value("region", parent)
        st.rerun()


def render(sel: Selection, table: pd.DataFrame, ind: pd.Series, highlight: str | None) -> None:
    if sel.start.year != sel.year:
        st.caption(f":orange-badge[{T('{year}年年度数据尚未发布', year=sel.year)}] "
                   f"{T('显示最近一年（{year}年）。', year=sel.start.year)}")
    if table["value"].isna().all():
        st.info(T("{name}：{region} 各{level}在 {period} 暂无数据（该指标报送到{report}）。", name=text.md(text.name(ind)),
                  region=text.md(sel.region_name), level=T(vocab.LEVELS[sel.level].group), period=sel.when(),
                  report=T(vocab.LEVELS.label(ind["report_level"]))))
        return
    left, right = st.columns([3, 2])
    with left:
        prov, static = render_map(sel, table, ind, highlight)
    with right:
        render_ranking(sel, table, ind, prov, static)


sc, T = frame.start()
indicators = data.indicators()
with frame.controls():
    sel = inputs(sc, indicators)
ind = indicators.set_index("id").loc[sel.indicators[0]]
shown, highlight = shown_regions(sel)
table = pd.DataFrame()
if shown.empty:
    st.info(T("{region} 没有下级区划可显示。", region=text.md(sel.region_name)))
else:
    sel = sel.with_(regions=tuple(shown["code"]))
    table = load(sel, shown, ind)
    render(sel, table, ind, highlight)
frame.footer(sel, table["source"].dropna().unique().tolist() if not table.empty else [])
