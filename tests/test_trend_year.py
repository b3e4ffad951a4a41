"""趋势 follows the sidebar year (issue 13, item 5): the default span ends at the year, a new year moves
the span, and no title or subtitle claims years past the data. Expected years come from the Parquet
files, read here with DuckDB."""

import json

import duckdb
import pytest

from conftest import ROOT, app

OBS = str(ROOT / "data" / "observations.parquet")


def years_of(indicator: str) -> tuple[int, int]:
    lo, hi = duckdb.execute("SELECT min(year(period)), max(year(period)) FROM read_parquet(?) "
                            "WHERE indicator_id = ?", [OBS, indicator]).fetchone()
    return int(lo), int(hi)


def chart_years(at) -> set[int]:
    years = set()
    for chart in at.get("plotly_chart"):
        for trace in json.loads(chart.proto.spec)["data"]:
            years |= {int(str(x)[:4]) for x in trace.get("x") or [] if x is not None}
    return years


def header(at) -> str:
    return " ".join(c.value for c in at.caption[:1])


@pytest.mark.parametrize("year", [2021, 2023])
def test_the_default_span_ends_at_the_sidebar_year(year):
    at = app("trend", year=str(year), inds="yb_resident_insured_rate")
    first, _ = years_of("yb_resident_insured_rate")
    assert at.slider(key="_w_span").value == (first, year)
    assert max(chart_years(at)) == year
    assert f"{first}—{year}" in header(at)
    assert "yb_resident_insured_rate" in at.query_params["inds"]


def test_a_new_sidebar_year_moves_the_span_and_keeps_its_length():
    at = app("trend", year="2024", inds="mz_home_aging_mod")
    at.slider(key="_w_span").set_value((2022, 2024)).run()
    assert max(chart_years(at)) == 2024
    at.selectbox(key="_w_year").set_value(2025).run()
    assert at.slider(key="_w_span").value == (2023, 2025)
    assert chart_years(at) == {2023, 2024, 2025}
    assert "2023—2025" in header(at)


def test_a_span_in_the_link_is_kept():
    at = app("trend", year="2023", span="2019-2021", inds="mz_home_aging_mod")
    assert at.slider(key="_w_span").value == (2019, 2021)
    first, _ = years_of("mz_home_aging_mod")  # collected from 2021 on: the chart shows 2021 alone
    assert chart_years(at) == {first}
    assert "2019" not in header(at)


def test_no_span_past_the_data():
    """Data of 居民医保参保率 end in 2025: in 2026 the title says the span up to 2025, as does the chart."""
    _, last = years_of("yb_resident_insured_rate")
    at = app("trend", year=str(last + 1), inds="yb_resident_insured_rate")
    assert max(chart_years(at)) == last
    assert f"—{last}年" in header(at) and f"—{last + 1}" not in header(at)
    title = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]
    assert f"—{last}年" in title and f"—{last + 1}" not in title


def test_each_chart_says_its_own_years():
    """Two charts over 2018–2026: 适老化改造 is collected from 2021 and runs to 2026, 参保率 ends in 2025;
    each chart's title says its own years."""
    at = app("trend", year="2026", inds=["mz_home_aging_mod", "yb_resident_insured_rate"])
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    for ind, title in zip(["mz_home_aging_mod", "yb_resident_insured_rate"], titles):
        first, last = years_of(ind)
        assert f"{first}—{last}年" in title, (ind, title)
