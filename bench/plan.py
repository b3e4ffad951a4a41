"""What the benchmark asks: the queries as the pages issue them, on regions and indicators that
have data, and what the concurrent sessions pick from. Planning only, never timed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from minsheng import db, export, repo
from minsheng.regions import Tree

EXPORT_ROWS = 1_000_000


def _coverage(directory: Path) -> pd.DataFrame:
    """Rows per indicator and county (a code's first 6 digits), to pick queries whose answers are not empty.
    The timed queries all go through repo; this one only chooses them."""
    cur = db.cursor(directory)
    try:
        return cur.execute("select indicator_id, left(region_code, 6) as county, count(*) as n, max(period) as last "
                           "from observations group by all").df()
    finally:
        cur.close()


def _last_year(directory: Path) -> int:
    """The data's year: its data date's, else its last period's."""
    meta, per = repo.meta(directory), repo.periods(directory)
    return pd.Timestamp(meta.get("data_date") or per["last_period"].max()).year


def span(q: dict) -> tuple[dt.date, dt.date]:
    """A planned query's date range (the plan is JSON, so the dates travel as ISO strings)."""
    return dt.date.fromisoformat(q["date_from"]), dt.date.fromisoformat(q["date_to"])


def plan(directory: Path, export_rows: int = EXPORT_ROWS) -> dict:
    """Queries as the pages issue them, with regions and indicators that have data."""
    reg, ind, per = repo.regions(directory), repo.indicators(directory), repo.periods(directory)
    year, first = _last_year(directory), pd.Timestamp(per["first_period"].min()).year
    tree = Tree(reg)
    root = tree.roots[0]
    city = min(c for c, level in tree.levels.items() if level == "city")
    counties = [c for c in tree.kids(city) if tree.kids(c)]
    cov = _coverage(directory).merge(ind[["id", "kind", "frequency", "report_level"]], left_on="indicator_id", right_on="id")
    below = cov[cov["report_level"].isin(["township", "village"]) & cov["county"].isin([c[:6] for c in counties])]
    county = (counties[0] if below.empty else
              next(c for c in counties if c[:6] == below.groupby("county")["n"].sum().idxmax()))
    towns = tree.kids(county)
    here = below[below["county"] == county[:6]].sort_values(["n", "indicator_id"], ascending=[False, True])

    def best(mask) -> str | None:  # the indicator with the most rows in the county
        d = here[mask]
        return d["indicator_id"].iloc[0] if len(d) else None

    trend = [i for i in (best((here["kind"] == "count") & (here["frequency"] == "month")), best(here["kind"] == "rate")) if i]
    map_ind = best((here["report_level"] == "township") & here["kind"].isin(["count", "amount"])) or best(here["report_level"] == "township")
    map_period = pd.Timestamp(here.loc[here["indicator_id"] == map_ind, "last"].max() if map_ind else dt.date(year, 12, 1)).date()
    # the export: the level with the most rows, its biggest indicators until about `export_rows` rows
    n = cov.groupby("indicator_id")["n"].sum()
    ind = ind.assign(n=ind["id"].map(n).fillna(0))
    leaf = ind.groupby("report_level")["n"].sum().idxmax()
    pool = ind[ind["report_level"] == leaf].sort_values(["n", "id"], ascending=[False, True])
    take = int(np.searchsorted(pool["n"].cumsum().to_numpy(), export_rows)) + 1
    ex_ids, ex_from, ex_to = pool["id"].iloc[:take].tolist(), dt.date(first, 1, 1), dt.date(year, 12, 1)
    scope = repo.regions_below(root, leaf, directory)["code"].tolist()  # the export's regions, as export.check finds them
    iso = dt.date.isoformat
    queries = [
        dict(name="overview", kind="series", indicators=ind["id"].tolist(), regions=[city],
             date_from=iso(dt.date(year - 2, 1, 1)), date_to=iso(dt.date(year, 12, 31))),
        # the trend page's span: a year more than shown, so the first year has its 同比
        dict(name="trend", kind="series", indicators=trend, regions=[county, *towns],
             date_from=iso(dt.date(first - 1, 1, 1)), date_to=iso(dt.date(year, 12, 31))),
        dict(name="map", kind="series", indicators=[map_ind] if map_ind else [], regions=towns,
             date_from=iso(map_period), date_to=iso(map_period)),
        dict(name="goal", kind="goal", region=city, year=year),
        dict(name="export", kind="export", indicators=ex_ids, region=root, level=leaf,
             date_from=iso(ex_from), date_to=iso(ex_to)),
        # the export's query alone, without export.table's formatting
        dict(name="export_series", kind="series", indicators=ex_ids, regions=scope,
             date_from=iso(ex_from), date_to=iso(ex_to)),
    ]
    return dict(data=str(Path(directory).resolve()), queries=queries, columns=export.COLUMNS,
                pages=dict(city=city, county=county, year=year, trend=trend))


def session_scopes(directory: Path) -> dict:
    """What the sessions pick from: regions of every level (the province, cities, counties,
    townships), the data's last three years, and the indicators with the most rows (the pages'
    default indicators are the demo's, so a session chooses some, as a user would); for the map
    those reported by township or village."""
    reg, ind, year = repo.regions(directory), repo.indicators(directory), _last_year(directory)
    codes = []
    for level in ("province", "city", "county", "township"):
        c = sorted(reg.loc[reg["level"] == level, "code"])
        codes += c[:: max(1, len(c) // 12)][:12]  # at most a dozen a level, spread over the list
    n = _coverage(directory).groupby("indicator_id")["n"].sum()
    ind = ind.assign(n=ind["id"].map(n).fillna(0)).sort_values(["n", "id"], ascending=[False, True])
    ind = ind[ind["n"] > 0]
    low = ind[ind["report_level"].isin(["township", "village"])]
    return dict(regions=codes, years=[year - 2, year - 1, year], indicators=ind["id"].head(30).tolist(),
                map_indicators=(low if len(low) else ind)["id"].head(10).tolist())
