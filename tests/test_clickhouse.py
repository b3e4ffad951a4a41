"""The ClickHouse engine (minsheng/clickhouse.py) answers every query as DuckDB does, on every test dataset.

Each dataset is published into chDB (embedded ClickHouse) with the real publish, then every repo call is
made twice, once per engine (MINSHENG_ENGINE), and the frames must be identical: same columns, same
dtypes, same rows (floats to 1e-9). A few numbers are also counted by hand here, on the ClickHouse side.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlglot

pytest.importorskip("chdb")

from conftest import CITY, JIA, JIA1, ROOT, YI, YI1, fixture_tables  # noqa: E402
from minsheng import clickhouse, repo, store  # noqa: E402

D0, D1 = dt.date(2015, 1, 1), dt.date(2027, 12, 1)


@pytest.fixture(scope="module")
def chdb_path(tmp_path_factory):
    where = "chdb:" + str(tmp_path_factory.mktemp("chdb"))
    yield where
    clickhouse.reset()


def _both(monkeypatch, where, call):
    """`call()` on DuckDB, then on ClickHouse (the version last published at `where`)."""
    monkeypatch.delenv("MINSHENG_ENGINE", raising=False)
    duck = call()
    monkeypatch.setenv("MINSHENG_ENGINE", "clickhouse")
    monkeypatch.setenv("MINSHENG_CLICKHOUSE_PATH", where[len("chdb:"):])
    try:
        return duck, call()
    finally:
        monkeypatch.delenv("MINSHENG_ENGINE")


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns), na_position="last", kind="stable").reset_index(drop=True)


def _same(duck, house, label):
    if isinstance(duck, pd.DataFrame):
        assert list(house.columns) == list(duck.columns), label
        # a column DuckDB reads from a table written empty from pandas has no type (object, all NULL);
        # ClickHouse's has the store's type
        typed = [c for c in duck.columns if not (duck[c].dtype == object and duck[c].isna().all() and duck.empty)]
        assert dict(house.dtypes[typed]) == dict(duck.dtypes[typed]), label
        pd.testing.assert_frame_equal(_sorted(house), _sorted(duck), check_dtype=False, check_exact=False,
                                      rtol=1e-9, atol=1e-9,
                                      obj=label)
    else:
        assert house == duck, label


def _batches(frames, size) -> pd.DataFrame | int:
    frames = list(frames)
    assert all(len(f) <= size for f in frames)
    return pd.concat(frames, ignore_index=True) if frames else 0  # both engines: no batch for no rows


def _calls(directory, area):
    """Every repo call a page or an export makes, over the whole of `directory`'s data, within `area`."""
    regions = pd.read_parquet(store.table_path(store.resolve(directory), "regions"))
    ids = pd.read_parquet(store.table_path(store.resolve(directory), "indicators"))["id"].tolist()
    targets = pd.read_parquet(store.table_path(store.resolve(directory), "targets"))
    codes = regions["code"].tolist()
    top = regions.loc[regions["parent_code"].isna(), "code"].tolist()
    size = 7 if len(codes) < 20 else 5_000  # many small batches on the hand-made data; the demo's 65k rows in 14
    calls = {
        "regions": lambda: repo.regions(directory, area=area),
        "indicators": lambda: repo.indicators(directory),
        "periods": lambda: repo.periods(directory),
        "series": lambda: repo.series(ids, codes, D0, D1, directory, area=area),
        "series one year": lambda: repo.series(ids, codes[:3], dt.date(2023, 1, 1), dt.date(2023, 12, 1), directory,
                                               area=area),
        "series none": lambda: repo.series(["没有这个指标"], codes, D0, D1, directory, area=area),
        "series count": lambda: repo.series_count(ids, codes, D0, D1, directory, area=area),
        "series batches": lambda: _batches(repo.series_batches(ids, codes, D0, D1, directory, area=area,
                                                               batch_rows=size), size),
        "like_for_like": lambda: repo.like_for_like(ids, codes, D0, D1, directory, area=area),
        "targets none": lambda: repo.targets("x' or 1=1 --", 2023, directory, area=area),
    }
    for root in top:
        for level in (None, *sorted(set(regions["level"]))):
            calls[f"below {root} {level}"] = lambda root=root, level=level: repo.regions_below(
                root, level, directory, area=area)
            calls[f"below {root} {level} on"] = lambda root=root, level=level: repo.regions_below(
                root, level, directory, area=area, on=dt.date(2018, 6, 30))
    for region, year in targets[["region_code", "year"]].drop_duplicates().head(6).itertuples(index=False):
        calls[f"targets {region} {year}"] = lambda r=region, y=year: repo.targets(r, int(y), directory, area=area)
    return calls


def _datasets(tmp_path_factory):
    from test_code_changes import tables as code_change_tables

    fixture = tmp_path_factory.mktemp("ch_fixture")
    store.write_tables(fixture, fixture_tables(), {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    changes = tmp_path_factory.mktemp("ch_changes")
    store.write_tables(changes, code_change_tables(), {"title": "代码变更测试", "demo": False,
                                                       "data_date": "2019-12-31"})
    # areas: none, a county (or a city), a township or a retired code, a code that is not there
    return {"fixture": (fixture, [None, JIA, YI1]),
            "code changes": (changes, [None, "430200000000", "430221000000"]),
            "demo": (ROOT / "data", [None, "430100000000", "999999999999"])}


@pytest.mark.parametrize("dataset", ["fixture", "code changes", "demo"])
def test_every_query_answers_the_same_on_both_engines(dataset, chdb_path, monkeypatch, tmp_path_factory):
    directory, areas = _datasets(tmp_path_factory)[dataset]
    clickhouse.publish(directory, chdb_path)
    checked = 0
    for area in areas:
        for label, call in _calls(directory, area).items():
            duck, house = _both(monkeypatch, chdb_path, call)
            _same(duck, house, f"{dataset} {label} area={area}")
            checked += 1
    assert checked > 30


def test_numbers_counted_by_hand_on_clickhouse(chdb_path, monkeypatch, tmp_path):
    store.write_tables(tmp_path, fixture_tables(), {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    clickhouse.publish(tmp_path, chdb_path)
    monkeypatch.setenv("MINSHENG_ENGINE", "clickhouse")
    monkeypatch.setenv("MINSHENG_CLICKHOUSE_PATH", chdb_path[len("chdb:"):])
    s = repo.series(["cnt", "rate", "stock"], [CITY, JIA], dt.date(2023, 1, 1), dt.date(2023, 12, 1), tmp_path)
    row = s[(s["indicator_id"] == "cnt") & (s["region_code"] == CITY) & (s["period"] == "2023-01-01")].iloc[0]
    assert (row["value"], row["n_reported"], row["n_expected"], bool(row["derived"])) == (1 + 2 + 10, 3, 3, True)
    rate = s[(s["indicator_id"] == "rate") & (s["region_code"] == JIA)].iloc[0]
    assert rate["value"] == pytest.approx(100 * (90 + 10) / (100 + 100))
    # 乙一镇 did not report stock in February: the city's roll-up has 2 of 3, a gap, not a zero
    feb = s[(s["indicator_id"] == "stock") & (s["region_code"] == CITY) & (s["period"] == "2023-02-01")].iloc[0]
    assert (feb["value"], feb["n_reported"], feb["n_expected"]) == (110 + 50, 2, 3)
    # the area is a bound parameter: 甲县's user asking for the city and 乙县 gets nothing for them
    assert repo.series(["cnt"], [CITY, YI], dt.date(2023, 1, 1), dt.date(2023, 12, 1), tmp_path, area=JIA).empty
    assert repo.regions(tmp_path, area=JIA)["code"].tolist() == sorted([JIA, JIA1, "990101002000"])


def test_publishing_switches_readers_whole_and_keeps_two(chdb_path, monkeypatch, tmp_path):
    store.write_tables(tmp_path, fixture_tables(), {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    first = clickhouse.publish(tmp_path, chdb_path)
    monkeypatch.setenv("MINSHENG_ENGINE", "clickhouse")
    monkeypatch.setenv("MINSHENG_CLICKHOUSE_PATH", chdb_path[len("chdb:"):])

    def jia1_january():
        s = repo.series(["cnt"], [JIA1, CITY], dt.date(2023, 1, 1), dt.date(2023, 1, 1), tmp_path)
        return s.set_index("region_code")["value"].to_dict()

    assert jia1_january() == {JIA1: 1, CITY: 13}
    names = []
    for new_value in (101, 202):
        obs = fixture_tables()["observations"]
        obs.loc[(obs["indicator_id"] == "cnt") & (obs["region_code"] == JIA1) & (obs["period"] == dt.date(2023, 1, 1)),
                "value"] = float(new_value)
        store.commit(tmp_path, {"observations": obs}, action="import", note="测试")
        names.append(clickhouse.publish(tmp_path, chdb_path))
        # the leaf and the roll-up above it move together: both from the new version
        assert jia1_january() == {JIA1: new_value, CITY: new_value + 2 + 10}
        assert clickhouse.published(chdb_path) == names[-1]
    shown = clickhouse.engine(chdb_path).arrow("select name from system.databases").column(0).to_pylist()
    assert first not in shown and set(names) <= set(shown)  # two kept, the oldest dropped


def test_transpiled_sql_is_typed_dated_and_qualified():
    name = "ms_base_0123456789abcdef"
    for path in sorted((ROOT / "queries").glob("*.sql")):
        sql = clickhouse.load_sql(path.stem, name)
        assert ": }" not in sql  # every placeholder has a type
        assert " AS DATE)" not in sql.upper().replace("DATE32", "")  # Date stops at 1970 and 2149
        tree = sqlglot.parse_one(sql, read="clickhouse")
        ctes = {c.alias_or_name for c in tree.find_all(sqlglot.exp.CTE)}
        read = [t for t in tree.find_all(sqlglot.exp.Table) if t.name not in ctes]
        assert read and all(t.db == name for t in read), path.stem  # every table from the published database
    with pytest.raises(ValueError):
        clickhouse.load_sql("series", "x; drop database minsheng")


def test_row_policy_filters_keep_exactly_the_area_and_refuse_other_text(chdb_path, tmp_path):
    # chDB's default user may not create users or row policies (ACCESS_DENIED), so the policies' condition
    # is checked here on chDB and the statements are only parsed (EXPLAIN AST); a server runs them
    store.write_tables(tmp_path, fixture_tables(), {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    name = clickhouse.publish(tmp_path, chdb_path)
    regions = fixture_tables()["regions"]
    parent = dict(zip(regions["code"], regions["parent_code"]))

    def under(code, area):  # by walking parent codes, not through `ancestors`
        while code is not None and code == code:
            if code == area:
                return True
            code = parent.get(code)
        return False

    e = clickhouse.engine(chdb_path)
    for table, column in clickhouse.POLICY_TABLES.items():
        everything = e.arrow(f"select {column} from {name}.{table}").column(0).to_pylist()
        kept = e.arrow(f"select {column} from {name}.{table} where {clickhouse.policy_filter(name, JIA, table)}"
                       ).column(0).to_pylist()
        assert sorted(kept) == sorted(c for c in everything if under(c, JIA)), table
    statements = clickhouse.row_policies(name, JIA, "viewer_jia")
    assert len(statements) == len(clickhouse.POLICY_TABLES)
    assert all(s.startswith("create row policy") and s.endswith(" to viewer_jia") for s in statements)
    for statement in statements:  # ClickHouse's own parser takes each (running one needs a server's grants)
        assert "ROW POLICY" in str(e.arrow("explain ast " + statement).column(0)[0])
    for area, role in (("99' or 1=1 --", "viewer"), (JIA, "viewer; drop user x")):
        with pytest.raises(ValueError):
            clickhouse.row_policies(name, area, role)


def test_without_chdb_or_configuration_the_engine_says_what_to_do(monkeypatch, tmp_path):
    import sys

    monkeypatch.setenv("MINSHENG_ENGINE", "clickhouse")
    monkeypatch.delenv("MINSHENG_CLICKHOUSE_URL", raising=False)
    monkeypatch.delenv("MINSHENG_CLICKHOUSE_PATH", raising=False)
    with pytest.raises(clickhouse.EngineError, match="MINSHENG_CLICKHOUSE_PATH"):
        repo.regions()
    monkeypatch.setenv("MINSHENG_CLICKHOUSE_PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "chdb", None)  # as where requirements-dev.txt is not installed
    with pytest.raises(clickhouse.EngineError, match="未安装 chDB"):
        repo.regions()
    monkeypatch.setenv("MINSHENG_ENGINE", "spark")
    with pytest.raises(ValueError, match="MINSHENG_ENGINE"):
        repo.regions()
