"""Plotly figures and the one chart theme (restrained, colour-blind-safe, Chinese-first)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from minsheng import fmt, literal
from minsheng.i18n import t as tr


# Okabe–Ito order, readable in print and by colour-blind viewers; the focus region is drawn first.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#999999", "#8C564B"]
STATUS_COLORS = {"已完成": "#009E73", "超序时": "#0072B2", "滞后": "#E69F00", "严重滞后": "#D55E00"}
FONT = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, sans-serif"

# The config of every st.plotly_chart. The modebar of Streamlit's plotly.js (v4) would offer "Download plot
# as a PNG" (toImage) to anyone, with no role check and no audit line; downloadJson (the figure with its data,
# when a figure asks for it) and sendChartToCloud (Share chart, which posts the data to a server) would hand
# the data out too. Pictures are exported through the audited 下载 PNG / SVG buttons (minsheng/ui/exports.py);
# zoom, pan, reset and Streamlit's fullscreen stay. tests/test_viewer_downloads.py reads the bundle's buttons.
PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["toImage", "downloadJson", "sendChartToCloud"],
                 "showSendToCloud": False}


def _slim_template() -> go.layout.Template:
    # plotly_white's layout and the defaults of the trace types we draw: assigning the whole
    # template deep-copies defaults for every trace type plotly knows (~25 ms a figure).
    import plotly.io as pio

    full = pio.templates["plotly_white"]
    return go.layout.Template(layout=full.layout, data={"scatter": full.data.scatter, "bar": full.data.bar})


TEMPLATE = _slim_template()
# Everything _theme sets that is the same on every chart, applied in one step with the template
# (a layout update per property costs ~8 ms a figure).
CHART_TEMPLATE = go.layout.Template(TEMPLATE)
CHART_TEMPLATE.layout.update(
    font=dict(family=FONT, size=14, color="#222"),
    legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0, font=dict(size=12)),
    margin=dict(l=10, r=10, t=80, b=10), hovermode="x unified", separators=".,",
    yaxis=dict(tickformat=",", rangemode="tozero", gridcolor="#e5e5e5"))


def _theme(fig: go.Figure, title: str, subtitle: str, height: int = 440, unit: str | None = None,
           lang: str = "zh") -> go.Figure:
    """Title and subtitle (region, period, source, data date) on the chart itself, the unit written
    horizontally above the axis (a rotated Chinese axis title reads sideways), legend below. All
    three are plain text, escaped here for Plotly."""
    title, subtitle = literal.plotly(title), literal.plotly(subtitle)
    annotations = [dict(text=tr("单位：{unit}", lang, unit=literal.plotly(unit)), xref="paper", yref="paper", x=0, y=1.0,
                        xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=12, color="#555"))] if unit else []
    fig.update_layout(
        template=CHART_TEMPLATE, height=height,
        title=dict(text=f"<b>{title}</b><br><span style='font-size:12px;color:#555'>{subtitle}</span>",
                   x=0, xanchor="left", y=0.97, yanchor="top"),
        annotations=list(fig.layout.annotations) + annotations,
    )
    return fig


VIEW_LABEL = {"value": "数值", "yoy": "同比", "mom": "环比"}
MOM_OF_INCREMENTS = "环比按当月增量"  # 环比 of a year-to-date monthly indicator (metrics.increments)


def view_label(ind: dict, view: str) -> str:
    """What a view is called: 环比 of a year-to-date monthly indicator says it compares increments."""
    if view == "mom" and ind.get("cumulative") and ind.get("frequency") == "month":
        return MOM_OF_INCREMENTS
    return VIEW_LABEL[view]


def _missing_trace(df: pd.DataFrame, names: dict[str, str], codes: list[str], lang: str) -> go.Scatter | None:
    """One marker at the foot of the plot for each period some region shown did not report (rows
    marked by metrics.complete_periods), its hover naming them: a break in a line is easy to miss,
    and a gap has no point to hover on."""
    silent = df[df["unreported"]] if "unreported" in df else df.iloc[:0]
    if silent.empty:
        return None
    rank = {c: i for i, c in enumerate(codes)}
    by_period = silent.groupby("period")["region_code"].agg(lambda c: sorted(c, key=rank.get))
    label = tr("未报", lang)
    text = [literal.plotly("、".join(names.get(c, c) for c in cs[:6]) + (tr("等 {n} 个", lang, n=len(cs)) if len(cs) > 6 else ""))
            + "：" + label for cs in by_period]
    return go.Scatter(x=by_period.index, y=[0.03] * len(by_period), yaxis="y2", name=label, mode="markers", text=text,
                      marker=dict(symbol="x-thin-open", size=10, color="#666", line=dict(width=2)),
                      hovertemplate="%{text}<extra></extra>")


def axis_unit(ind: dict, view: str, lang: str = "zh") -> str:
    """The unit of what a trend shows: the indicator's own, or that of its change — percentage
    points for a rate, % for everything else."""
    if view == "value":
        return tr(ind["unit"], lang)
    return tr("个百分点", lang) if ind["kind"] == "rate" else "%"


def trend(df: pd.DataFrame, ind: dict, names: dict[str, str], focus: str, view: str, subtitle: str,
          grain: str = "month", lang: str = "zh") -> go.Figure:
    """Lines of one indicator over time, one per region; gaps stay gaps (no line across them)."""
    fig = go.Figure()
    y_title = axis_unit(ind, view, lang)
    periods = pd.DatetimeIndex(sorted(df["period"].unique()))
    codes = [focus] + sorted(c for c in df["region_code"].unique() if c != focus)
    col = "value" if view == "value" else view
    # the hover in the indicator's precision; a change as Change.signed writes it
    places = fmt.decimals_for(ind["unit"], ind["kind"], ind.get("decimals")) if view == "value" else \
        2 if ind["kind"] == "rate" else 1
    wide = df.pivot_table(index="period", columns="region_code", values=col, aggfunc="first", dropna=False
                          ).reindex(index=periods, columns=codes)  # one row per period, gaps as NaN
    for i, code in enumerate(codes):
        y = wide[code]
        label = literal.plotly(names.get(code, code))
        fig.add_trace(go.Scatter(
            x=periods, y=y, name=label, mode="lines+markers", connectgaps=False,
            line=dict(width=3.5 if code == focus else 1.8, color=PALETTE[i % len(PALETTE)]),
            marker=dict(size=6 if code == focus else 4),
            # names and unit by reference: text in the template itself would be read as %{…} fields
            meta=[label, literal.plotly(y_title)], hovertemplate=f"%{{meta[0]}}：%{{y:,.{places}f}} %{{meta[1]}}<extra></extra>",
        ))
    missing = _missing_trace(df, names, codes, lang)
    if missing is not None:  # on an axis of its own, at the foot of the plot whatever the values' scale
        fig.add_trace(missing)
        fig.update_layout(yaxis2=dict(overlaying="y", range=[0, 1], visible=False, fixedrange=True))
    title = ind["name_zh"] + ("" if view == "value" else f"（{tr(view_label(ind, view), lang)}）")
    _theme(fig, title, subtitle, unit=y_title, lang=lang)
    # rates and standards move within a narrow band: an axis from zero would flatten them
    fig.update_yaxes(rangemode="tozero" if view == "value" and ind["kind"] in ("count", "amount") else "normal")
    if view != "value":
        fig.add_hline(y=0, line_color="#666", line_width=1)
    monthly = ind["frequency"] == "month" and grain == "month"
    if lang == "en":
        fig.update_xaxes(tickformat="%b %Y" if monthly else "%Y", dtick=None if monthly else "M12")
    else:
        fig.update_xaxes(tickformat="%Y年%m月" if monthly else "%Y年", dtick=None if monthly else "M12")
    return fig


def goals(df: pd.DataFrame, subtitle: str, lang: str = "zh") -> go.Figure:
    """完成率 per task as bars, with each task's 序时进度 as a marker to compare against."""
    d = df.dropna(subset=["completion"]).iloc[::-1]
    labels = [literal.plotly(f"{t}（{dep}）") for t, dep in zip(d["task"], d["department"])]
    done, elapsed_name = tr("完成率", lang), tr("序时进度", lang)
    fig = go.Figure()
    fig.add_trace(go.Bar(
        y=labels, x=100 * d["completion"], orientation="h", name=done, showlegend=False,
        customdata=list(d["indicator_id"]),  # the task a click on its bar opens (目标, ?task=)
        marker_color=[STATUS_COLORS.get(s, "#999") for s in d["status"]],
        # a short bar (a task at 0 %) has no inside to write in: its figure goes beside it, in dark ink
        text=[f"{100 * c:.1f}%" for c in d["completion"]], insidetextanchor="end",
        textposition=["inside" if c >= 0.15 else "outside" for c in d["completion"]],
        insidetextfont=dict(color="white"), outsidetextfont=dict(color="#222"),
        hovertemplate="%{y}<br>" + done + " %{x:.1f}%<extra></extra>",
    ))
    for status, color in STATUS_COLORS.items():  # legend entries for the status colours
        fig.add_trace(go.Bar(y=[None], x=[None], orientation="h", name=tr(status, lang), marker_color=color))
    el = d.dropna(subset=["elapsed"])
    fig.add_trace(go.Scatter(
        y=[literal.plotly(f"{t}（{dep}）") for t, dep in zip(el["task"], el["department"])], x=100 * el["elapsed"],
        mode="markers", name=elapsed_name, customdata=list(el["indicator_id"]),
        marker=dict(symbol="line-ns-open", size=22, color="#000",
                                                    line=dict(width=3)),
        hovertemplate=elapsed_name + " %{x:.1f}%<extra></extra>",
    ))
    _theme(fig, tr("重点民生实事完成率与序时进度", lang), subtitle, height=max(360, 38 * len(d) + 160), unit="%",
           lang=lang)
    fig.update_layout(hovermode="closest", bargap=0.35)
    fig.update_xaxes(range=[0, max(110, float(100 * d["completion"].max()) + 12) if len(d) else 110],
                     ticksuffix="%")
    return fig


def task_progress(months: pd.DataFrame, target: float, pace: pd.Series | None, title: str, subtitle: str,
                  unit: str, decimals: int, lang: str = "zh") -> go.Figure:
    """One task's figure month by month (`months`: period, value) against the line it should be on:
    the target times 序时进度 at each month's end (`pace`, by period), or the target itself for a rate."""
    done, on_pace = tr("完成", lang), tr("序时进度", lang) + " × " + tr("目标值", lang)
    u = literal.plotly(unit)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=months["period"], y=months["value"], name=done, marker_color="#0072B2",
                         meta=[u], hovertemplate=f"%{{x|%Y-%m}}：%{{y:,.{decimals}f}} %{{meta[0]}}<extra></extra>"))
    if pace is not None:
        fig.add_trace(go.Scatter(x=pace.index, y=pace.values, name=on_pace, mode="lines+markers",
                                 line=dict(color="#000", width=2, dash="dash"), meta=[u],
                                 hovertemplate=f"%{{x|%Y-%m}}：%{{y:,.{decimals}f}} %{{meta[0]}}<extra></extra>"))
    fig.add_hline(y=target, line_color=STATUS_COLORS["已完成"], line_width=1.5,
                  annotation_text=literal.plotly(tr("目标值", lang)), annotation_position="top left")
    _theme(fig, title, subtitle, unit=unit, lang=lang)
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(tickformat="%b %Y" if lang == "en" else "%m月", dtick="M1")
    return fig
