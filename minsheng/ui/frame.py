"""The frame every page shares: region and year in the sidebar, the title line and the footer."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from minsheng import fmt
from minsheng.ui import data, state


@dataclass(frozen=True)
class Scope:
    region: str
    region_name: str
    level: str
    year: int
    data_date: str | None
    demo: bool


def region_order(regions: pd.DataFrame) -> list[str]:
    """Region codes depth-first (city, its first county, that county's townships, …)."""
    children: dict = {}
    for r in regions.itertuples():
        children.setdefault(r.parent_code if pd.notna(r.parent_code) else None, []).append(r.code)
    out: list[str] = []

    def walk(code):
        out.append(code)
        for c in sorted(children.get(code, [])):
            walk(c)

    for root in sorted(children.get(None, [])):
        walk(root)
    return out


def region_label(regions: pd.DataFrame):
    depth = {"province": 0, "city": 0, "county": 1, "township": 2, "village": 3}
    names = dict(zip(regions["code"], regions["name"]))
    levels = dict(zip(regions["code"], regions["level"]))
    return lambda code: "　" * depth.get(levels.get(code), 0) + names.get(code, code)


def available_years() -> list[int]:
    p = data.periods()
    if p.empty:
        return []
    first = pd.Timestamp(p["first_period"].min()).year
    last = pd.Timestamp(p["last_period"].max()).year
    return list(range(last, first - 1, -1))


def data_problem() -> str | None:
    """A message for the user when the data directory cannot be read, else None."""
    try:
        if data.regions().empty:
            return "数据目录中没有区划数据。可运行 python -m minsheng demo 生成演示数据。"
    except FileNotFoundError as e:
        return f"无法读取数据：{e}"
    return None


def sidebar() -> Scope:
    """Draw the shared filters (region, year) and return the chosen scope; the router calls it once per run."""
    regions = data.regions()
    meta = data.meta()
    order = region_order(regions)
    with st.sidebar:
        st.markdown("### 民生指标看板")
        if meta.get("demo"):
            st.caption(":orange-badge[演示数据] 围绕公开报道数字生成，非官方统计")
        state.choice(st.selectbox, "区域", order, key="region", default=order[0],
                     format_func=region_label(regions), help="可输入名称搜索；选择后各页面同步")
        years = available_years()
        default_year = pd.Timestamp(meta["data_date"]).year if meta.get("data_date") else years[0]
        state.choice(st.selectbox, "年度", years, key="year", default=default_year, parse=int,
                     format_func=lambda y: f"{y}年")
        st.caption(f"数据截至 {fmt.date_label(meta.get('data_date'))}")
    return scope()


def scope() -> Scope:
    regions = data.regions()
    meta = data.meta()
    code = state.get("region")
    row = regions[regions["code"] == code].iloc[0]
    return Scope(region=code, region_name=row["name"], level=row["level"], year=int(state.get("year")),
                 data_date=meta.get("data_date"), demo=bool(meta.get("demo")))


def header(title: str, sc: Scope, period: str | None = None) -> None:
    st.title(title)
    bits = [sc.region_name, period or f"{sc.year}年", f"数据截至 {fmt.date_label(sc.data_date)}"]
    st.caption(" · ".join(bits) + ("　:orange-badge[演示数据]" if sc.demo else ""))


def footer(sc: Scope, sources: list[str] | None = None) -> None:
    src = "；".join(sorted({s for s in (sources or []) if s})) or "—"
    st.divider()
    st.caption(f"区域：{sc.region_name}（{sc.region}）　来源：{src}　数据日期：{fmt.date_label(sc.data_date)}"
               + ("　演示数据，非官方统计" if sc.demo else ""))


def children_of(code: str) -> pd.DataFrame:
    regions = data.regions()
    return regions[regions["parent_code"] == code].sort_values("code")


def indicator_label(ind: pd.DataFrame):
    names = dict(zip(ind["id"], ind["name_zh"]))
    units = dict(zip(ind["id"], ind["unit"]))
    domains = dict(zip(ind["id"], ind["domain"]))
    return lambda i: f"{domains.get(i, '')}｜{names.get(i, i)}（{units.get(i, '')}）"
