"""地图: an offline choropleth of the chosen region's subdivisions, a ranking beside it, drill-down."""

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import fmt, images, maps, metrics, slides, vocab
from minsheng.ui import data, exports, frame, state

DEFAULT = "yb_resident_insured_rate"


def inputs(sc: frame.Scope, indicators: pd.DataFrame) -> dict:
    ids = list(indicators["id"])
    c1, c2, c3 = st.columns([3, 2, 2])
    with c1:
        ind_id = state.choice(st.selectbox, T("指标"), ids, key="ind", default=DEFAULT,
                              format_func=frame.indicator_label(indicators))
    ind = indicators.set_index("id").loc[ind_id]
    with c2:
        if ind["frequency"] == "month":
            last = data.periods().set_index("indicator_id").loc[ind_id, "last_period"]
            last = pd.Timestamp(last)
            months = list(range(1, (last.month if last.year == sc.year else 12) + 1)) if last.year >= sc.year else list(range(1, 13))
            month = state.choice(st.selectbox, T("月份"), months[::-1], key="month", default=months[-1], parse=int,
                                 format_func=lambda m: fmt.period_label(dt.date(sc.year, m, 1), "month", sc.lang))
        else:
            month = 1
            last = pd.Timestamp(data.periods().set_index("indicator_id").loc[ind_id, "last_period"]).year
            year = min(sc.year, last)  # this year's annual figures may not be out yet
            st.text_input(T("时期"), T("{year}年（年度数据）", year=year), disabled=True)
    with c3:
        if sc.level == "city":
            level = state.choice(st.segmented_control, T("显示层级"), ["county", "township"], key="maplevel",
                                 default="county", format_func=lambda v: T("区县" if v == "county" else "乡镇（街道）"))
        else:
            level = "township"
            st.text_input(T("显示层级"), T("乡镇（街道）"), disabled=True)
    return dict(ind_id=ind_id, month=month, level=level or "county",
                year=year if ind["frequency"] == "year" else sc.year)


def map_regions(sc: frame.Scope, level: str) -> tuple[pd.DataFrame, str | None]:
    regions = data.regions()
    if sc.level == "city" and level == "county":
        return regions[regions["parent_code"] == sc.region], None
    if sc.level == "city":
        counties = regions.loc[regions["parent_code"] == sc.region, "code"]
        return regions[regions["parent_code"].isin(counties)], None
    if sc.level == "county":
        return regions[regions["parent_code"] == sc.region], None
    parent = regions.loc[regions["code"] == sc.region, "parent_code"].iloc[0]
    return regions[regions["parent_code"] == parent], sc.region


def load(sc: frame.Scope, f: dict, shown: pd.DataFrame, ind: pd.Series, year: int) -> pd.DataFrame:
    period = dt.date(year, f["month"], 1)
    prev = dt.date(year - 1, f["month"], 1)
    s = data.series([f["ind_id"]], shown["code"], prev, period)
    cur = s[s["period"] == pd.Timestamp(period)].set_index("region_code")
    last = s[s["period"] == pd.Timestamp(prev)].set_index("region_code")
    out = shown[["code", "name", "level", "lon", "lat"]].copy()
    out["value"] = out["code"].map(cur["value"]) if not cur.empty else None
    out["prev"] = out["code"].map(last["value"]) if not last.empty else None
    out["yoy"] = [None if (c := metrics.change(ind["kind"], v, p)) is None else c.value
                  for v, p in zip(out["value"], out["prev"])]
    out["source"] = out["code"].map(cur["source"]) if not cur.empty else None
    return out


def render(sc: frame.Scope, f: dict, table: pd.DataFrame, ind: pd.Series, highlight: str | None,
           year: int) -> None:
    period_text = fmt.period_label(dt.date(year, f["month"], 1), ind["frequency"], sc.lang)
    ind_name, unit = frame.name(ind), frame.unit(ind["unit"])
    if year != sc.year:
        st.caption(f":orange-badge[{T('{year}年年度数据尚未发布', year=sc.year)}] {T('显示最近一年（{year}年）。', year=year)}")
    level_text = T("区县" if f["level"] == "county" else "乡镇（街道）")
    if table["value"].isna().all():
        st.info(T("{name}：{region} 各{level}在 {period} 暂无数据（该指标报送到{report}）。", name=ind_name,
                  region=sc.region_name, level=level_text, period=period_text,
                  report=T(vocab.LEVELS.label(ind["report_level"]))))
        return
    rows = [dict(code=r.code, name=r.name, value=None if pd.isna(r.value) else float(r.value),
                 label=fmt.value_with_unit(r.value, ind["unit"], ind["kind"], sc.lang),
                 lon=None if pd.isna(r.lon) else r.lon, lat=None if pd.isna(r.lat) else r.lat)
            for r in table.itertuples()]
    coll = maps.boundaries(f["level"])
    synthetic = bool(coll) and any(ft["properties"].get("synthetic") for ft in coll["features"])
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**{ind_name}（{unit}） · {sc.region_name} · {T('按{level}', level=level_text)} · {period_text}**")
        deck = maps.choropleth(coll, rows, highlight)
        if deck is None:
            st.info(T("没有这些区划的边界或坐标，无法绘制地图；右侧排名仍可查看。"))
        else:
            event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key="map_chart",
                                    height=520)
            picked = (event.selection.objects.get("regions") or []) if event and event.selection else []
            if picked:
                code = picked[0].get("code") or picked[0].get("properties", {}).get("code")
                if code and code != sc.region and not frame.children_of(code).empty:
                    state.set_value("region", code)
                    st.rerun()
        legend = maps.legend(rows, lambda v: fmt.number(v, fmt.decimals_for(ind["unit"], ind["kind"])))
        chips = " ".join(f"<span style='display:inline-block;width:14px;height:14px;background:{c};"
                         f"border:1px solid #999;vertical-align:middle'></span> {t}" for c, t in legend)
        chips = chips.replace("无数据", T("无数据"))
        st.markdown(f"<div style='font-size:0.85rem'>{T('图例（{unit}）：', unit=unit)}{chips}</div>", unsafe_allow_html=True)
        notes = [T("无底图，离线绘制")]
        if synthetic and f["level"] == "township":
            notes.append(T("乡镇边界为示意边界，非实际行政界线"))
        st.caption("；".join(notes) + "。" + T("点击区县可下钻到其乡镇。"))
        title = f"{ind_name}（{unit}）"
        subtitle = f"{sc.region_name} · {T('按{level}', level=level_text)} · {period_text}"
        source = "；".join(sorted(set(table["source"].dropna()))) if table["source"].notna().any() else ""
        prov = exports.provenance(sc, title, subtitle, unit, source)
        dec = fmt.decimals_for(ind["unit"], ind["kind"])
        static = lambda: images.map_figure(coll, rows, highlight=highlight,  # noqa: E731
                                          fmt_value=lambda v: fmt.number(v, dec))
        exports.chart_buttons(static, prov, key="map_static",
                              detail=dict(page="地图", region=sc.region, indicators=[f["ind_id"]], level=f["level"]))
    with right:
        ranked = table.sort_values("value", ascending=not bool(ind["higher_is_better"] is not False), na_position="last")
        ranked = ranked.assign(rank=range(1, len(ranked) + 1))
        yoy_label = T("同比（个百分点）") if ind["kind"] == "rate" else T("同比（%）")
        show = ranked[["rank", "name", "value", "yoy"]].rename(
            columns={"rank": T("排名"), "name": T("区域"), "value": f"{ind_name}（{unit}）", "yoy": yoy_label})
        vmax = float(table["value"].max()) if table["value"].notna().any() else 1.0
        number_format = "%.1f" if fmt.decimals_for(ind["unit"], ind["kind"]) else "%d"
        # bars for quantities; a rate's differences of a point or two would vanish in a 0–100 bar
        value_column = (st.column_config.NumberColumn(format=number_format) if ind["kind"] in ("rate", "standard")
                        else st.column_config.ProgressColumn(format=number_format, min_value=0.0,
                                                             max_value=max(vmax, 1e-9)))
        st.dataframe(show, hide_index=True, width="stretch", height=min(560, 35 * (len(show) + 1) + 3),
                     column_config={show.columns[2]: value_column,
                                    yoy_label: st.column_config.NumberColumn(format="%+.1f")})
        drill = table[table["code"].map(lambda c: not frame.children_of(c).empty)]
        if not drill.empty:
            def drill_down():
                if st.session_state.get("map_drill"):
                    state.set_value("region", st.session_state["map_drill"])
                    st.session_state["map_drill"] = None

            names = dict(zip(table["code"], table["name"]))
            st.selectbox(T("下钻到"), [None] + drill["code"].tolist(), key="map_drill", on_change=drill_down,
                         format_func=lambda c: "—" if c is None else names[c])
        exports.deck_button(sc, "地图", lambda: [
            slides.Chart(prov.title, images.png(static(), prov)),
            slides.Table(f"{prov.title} · {T('排名')}", [str(c) for c in show.columns],
                         [[fmt.number(v, dec) if isinstance(v, float) else str(v) for v in r]
                          for r in show.itertuples(index=False)])], [source],
            detail=dict(indicators=[f["ind_id"]], level=f["level"], rows=len(show)))
        parent = data.tree().parent.get(sc.region)  # None at the top of what this user may see
        if parent is not None and st.button(T("返回上级"), icon=":material/arrow_upward:"):
            state.set_value("region", parent)
            st.rerun()


sc = frame.scope()
T = frame.translator(sc.lang)
indicators = data.indicators()
frame.header("地图", sc)
with frame.controls():
    f = inputs(sc, indicators)
ind = indicators.set_index("id").loc[f["ind_id"]]
shown, highlight = map_regions(sc, f["level"])
if shown.empty:
    st.info(T("{region} 没有下级区划可显示。", region=sc.region_name))
    table = pd.DataFrame()
else:
    table = load(sc, f, shown, ind, f["year"])
    render(sc, f, table, ind, highlight, f["year"])
frame.footer(sc, table["source"].dropna().unique().tolist() if not table.empty else [])
