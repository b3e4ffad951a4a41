"""The roll-up tables (minsheng/rollup.py) against a direct computation from the leaf rows.

The reference is minsheng/reference.py (Reference.series), also the benchmark's baseline: it walks
the region tree from each asked region and aggregates the leaf rows in Python — no roll-up tables involved.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import fixture_tables
from minsheng import db, repo, rollup, store, synth
from minsheng import reference
from minsheng.reference import KEYS, Reference, same

D0, D1 = dt.date(2000, 1, 1), dt.date(2999, 12, 1)


def every_region_every_indicator(directory) -> tuple[pd.DataFrame, pd.DataFrame]:
    regions = repo.regions(directory)["code"].tolist()
    ids = repo.indicators(directory)["id"].tolist()
    ours = repo.series(ids, regions, D0, D1, directory)
    theirs = Reference(directory).series(ids, regions, D0, D1)
    return ours, theirs


def agree(directory) -> pd.DataFrame:
    """Every series answer, and every like-for-like one (the lfl roll-up), against the reference's."""
    ours, theirs = every_region_every_indicator(directory)
    assert same(ours[theirs.columns.tolist()], theirs, KEYS) is None
    regions = repo.regions(directory)["code"].tolist()
    ids = repo.indicators(directory)["id"].tolist()
    mine = repo.like_for_like(ids, regions, D0, D1, directory)
    want = Reference(directory).like_for_like(ids, regions, D0, D1)
    assert same(mine[want.columns.tolist()], want, KEYS) is None
    return ours


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth_small")
    synth.build(d, 20_000, scale="small")  # every kind × report level × frequency, 5 levels deep
    return d


def test_every_kind_and_level_agrees_with_a_direct_computation(small):
    ours = agree(small)
    ind = repo.indicators(small).set_index("id")
    level = dict(zip(repo.regions(small)["code"], repo.regions(small)["level"]))
    seen = {(ind.loc[i, "kind"], level[r]) for i, r in zip(ours["indicator_id"], ours["region_code"])}
    for kind in ("count", "amount", "rate"):
        for lv in ("province", "city", "county", "township"):
            assert (kind, lv) in seen, (kind, lv)
    # standards: a county's own, a city's min–max over its counties, and the province's over the
    # counties too (its cities set none of their own); never a sum
    assert {("standard", "county"), ("standard", "city"), ("standard", "province")} <= seen
    assert ours["derived"].any() and (~ours["derived"]).any()


def test_hand_made_fixture_agrees(fixture_dir):
    agree(fixture_dir)  # own values above the reporting level (a city's own 低保标准) win


def test_a_village_directly_under_a_county_is_counted_once(tmp_path):
    t = fixture_tables()
    odd = dict(code="990101300000", name="直属村", level="township", parent_code="990101000000", lon=113.1, lat=27.1)
    vil = dict(code="990101300201", name="某村", level="village", parent_code="990101300000", lon=113.1, lat=27.1)
    direct = dict(code="990102201000", name="县直属村", level="village", parent_code="990102000000", lon=113.2, lat=26.9)
    t["regions"] = pd.concat([t["regions"], pd.DataFrame([odd, vil, direct])], ignore_index=True)
    t["indicators"].loc[t["indicators"]["id"] == "stock", "report_level"] = "village"
    obs = t["observations"]
    extra = obs[(obs["indicator_id"] == "stock") & (obs["region_code"] == "990101001000")].copy()
    more = [extra.assign(region_code=c, value=extra["value"] + k) for k, c in ((1, "990101300201"), (2, "990102201000"))]
    t["observations"] = pd.concat([obs, *more], ignore_index=True)
    store.write_tables(tmp_path, t, {"title": "测试"})
    s = agree(tmp_path)
    city = s[(s["indicator_id"] == "stock") & (s["region_code"] == "990100000000")]
    assert city["value"].tolist() == [101 + 102, 111 + 112, 121 + 122]  # the two villages, once each


def test_commit_links_roll_ups_when_sources_are_unchanged_and_rebuilds_them_otherwise(tmp_path, fixture_dir):
    d = tmp_path / "d"
    shutil.copytree(fixture_dir, d)
    base = store.resolve(d)
    v1 = store.commit(d, {"targets": fixture_tables()["targets"]})
    f1 = store.resolve(d)
    assert f1.name == v1
    for name in rollup.DERIVED:  # targets changed only: the same files, hard-linked
        assert os.stat(rollup.path(f1, name)).st_ino == os.stat(rollup.path(base, name)).st_ino
    obs = fixture_tables()["observations"]
    obs.loc[obs["indicator_id"] == "amt", "value"] += 100
    store.commit(d, {"observations": obs})
    f2 = store.resolve(d)
    assert os.stat(rollup.path(f2, "rollup")).st_ino != os.stat(rollup.path(f1, "rollup")).st_ino
    s = repo.series(["amt"], ["990100000000"], D0, D1, d)
    assert s["value"].tolist() == [12.5 + 7.5 + 200]
    store.rollback(d, v1)
    assert repo.series(["amt"], ["990100000000"], D0, D1, d)["value"].tolist() == [20.0]
    agree(d)


def test_stale_roll_ups_are_rebuilt(tmp_path, fixture_dir):
    d = tmp_path / "d"
    shutil.copytree(fixture_dir, d)
    assert rollup.current(d)
    obs = fixture_tables()["observations"]
    obs.loc[obs["indicator_id"] == "amt", "value"] *= 2
    obs.to_parquet(d / "observations.parquet", index=False)  # written behind the store's back
    assert not rollup.current(d)
    assert repo.series(["amt"], ["990100000000"], D0, D1, d)["value"].tolist() == [40.0]
    assert rollup.current(d)


def test_read_only_data_computes_roll_ups_in_memory(tmp_path, fixture_dir):
    d = tmp_path / "ro"
    d.mkdir()
    for name in store.TABLES:  # tables only, in a folder nobody may write to
        shutil.copy(store.table_path(fixture_dir, name), store.table_path(d, name))
    shutil.copy(fixture_dir / "meta.json", d / "meta.json")
    d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(d, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        agree(d)
        assert not rollup.path(d, "rollup").exists()
    finally:
        d.chmod(stat.S_IRWXU)


def test_observations_are_stored_sorted_in_small_row_groups(small):
    meta = pq.read_metadata(store.table_path(store.resolve(small), "observations"))
    assert meta.num_rows == 20_000
    t = pq.read_table(store.table_path(store.resolve(small), "observations"), columns=list(rollup.SORT)).to_pandas()
    assert t.equals(t.sort_values(list(rollup.SORT)).reset_index(drop=True))
    r = pq.read_metadata(rollup.path(small, "rollup"))
    assert all(r.row_group(i).num_rows <= rollup.ROW_GROUP for i in range(r.num_row_groups))


def test_area_limits_every_regional_query(fixture_dir):
    jia = "990101000000"
    assert set(repo.regions(fixture_dir, area=jia)["code"]) == {jia, "990101001000", "990101002000"}
    s = repo.series(["cnt", "std"], ["990100000000", jia, "990102000000", "990101001000"], D0, D1, fixture_dir, area=jia)
    assert set(s["region_code"]) == {jia, "990101001000"}
    assert repo.targets("990100000000", 2023, fixture_dir, area=jia).empty
    assert len(repo.targets("990100000000", 2023, fixture_dir, area="990100000000")) == 2
    assert repo.series(["cnt"], ["990100000000"], D0, D1, fixture_dir, area="' or 1=1 --").empty
    db.cursor(fixture_dir).close()


def test_many_sources_take_the_list_path_with_the_same_answer(tmp_path, fixture_dir, monkeypatch):
    d = tmp_path / "d"
    shutil.copytree(fixture_dir, d)
    monkeypatch.setattr(rollup, "MAX_SOURCES", 0)  # as if there were more sources than bits
    rollup.build(d)
    agree(d)


def test_only_allow_listed_pieces_reach_the_roll_up_sql():
    import duckdb

    con = duckdb.connect()
    with pytest.raises(ValueError, match="不允许"):
        rollup._run(con, "select * from {t}", t="regions; drop table x")
    with pytest.raises(ValueError, match="不允许"):
        rollup._run(con, "select 1 {x}", x="' or 1=1")


def test_an_import_re_rolls_only_the_indicators_it_touched(tmp_path, fixture_dir):
    d = tmp_path / "d"
    shutil.copytree(fixture_dir, d)
    before = pd.read_parquet(rollup.path(d, "rollup"))
    rows = fixture_tables()["observations"].query("indicator_id == 'stock'").copy()
    rows["value"] += 1000
    extra = rows.iloc[:1].assign(period=pd.Timestamp("2023-04-01").date(), value=5.0)  # a new month too
    store.commit(d, {}, observations=pd.concat([rows, extra], ignore_index=True))
    folder = store.resolve(d)
    for name in ("coverage", "ancestors"):  # regions unchanged: linked, not rebuilt
        assert os.stat(rollup.path(folder, name)).st_ino == os.stat(rollup.path(d, name)).st_ino
    after = reference.layered(folder, "rollup")
    keep = lambda t: t[t["indicator_id"] != "stock"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(keep(after), keep(before))
    assert len(after) == len(before) + 2  # April 2023 for 甲一镇's county and the city, nothing else new
    agree(d)
    full = tmp_path / "full"
    shutil.copytree(folder, full, ignore=shutil.ignore_patterns("rollup*", "coverage*", "ancestors*", "version.json"))
    rollup.build(full)
    pd.testing.assert_frame_equal(pd.read_parquet(rollup.path(full, "rollup")), after)
