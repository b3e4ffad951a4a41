"""The roll-up invariants (rollup.check), run whenever roll-ups are built: each fires on a folder that
breaks it, written with store.write_tables past the importer, and a commit that breaks one changes nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import CITY, JIA, JIA1, YI, fixture_tables
from minsheng import observations, repo, rollup, store

UNIQUE, REPORTED, RATE, NEGATIVE, LFL_UNIQUE, LFL_BOTH, ACYCLIC = rollup.CHECKS  # the names, in the order they run


def _rows(t: dict, ind: str, region: str) -> pd.Series:
    o = t["observations"]
    return (o["indicator_id"] == ind) & (o["region_code"] == region)


def _set(ind: str, region: str, column: str, value: float):
    def change(t):
        t["observations"].loc[_rows(t, ind, region), column] = value
    return change


def _again(name: str, which=None):
    def change(t):
        extra = t[name].iloc[[0]] if which is None else t[name][which(t)].iloc[[0]]
        t[name] = pd.concat([t[name], extra], ignore_index=True)
    return change


def _cycle(t):
    t["regions"].loc[t["regions"]["code"] == CITY, "parent_code"] = JIA1  # the city under its own township


# case: (the invariant that must fire, how the fixture tables are broken)
CASES = {
    "the same indicator twice in the catalogue": (UNIQUE, _again("indicators")),
    "the same region code twice": (UNIQUE, _again("regions", lambda t: t["regions"]["code"] == JIA)),
    "one unit reporting a month twice": (REPORTED, _again("observations")),
    "a child reporting a standard twice": (REPORTED, _again("observations", lambda t: _rows(t, "std", JIA))),
    "numerator above the denominator": (RATE, _set("rate", JIA1, "numerator", 900.0)),
    "a negative denominator": (RATE, _set("rate", JIA1, "denominator", -500.0)),
    "a negative count": (NEGATIVE, _set("cnt", JIA1, "value", -100.0)),
    "a negative amount": (NEGATIVE, _set("amt", YI, "value", -20.0)),
    "a negative standard": (NEGATIVE, _set("std", YI, "value", -1.0)),
    "a region under its own grandchild": (ACYCLIC, _cycle),
}


@pytest.mark.parametrize("case", CASES)
def test_each_invariant_fires_on_a_folder_that_breaks_it(tmp_path, case):
    name, change = CASES[case]
    tables = fixture_tables()
    change(tables)
    with pytest.raises(rollup.InvariantError, match="汇总表检查未通过") as e:
        store.write_tables(tmp_path, tables, {"title": "坏数据"})
    assert name in str(e.value)
    assert "例如区划 99" in str(e.value)  # an example key the user can look up
    assert not rollup.current(tmp_path)  # no stamp: nothing claims these roll-ups are good
    assert not rollup.path(tmp_path, "rollup").exists()


def test_the_message_names_only_what_is_broken_with_an_example_key(tmp_path):
    tables = fixture_tables()
    CASES["one unit reporting a month twice"][1](tables)
    with pytest.raises(rollup.InvariantError) as e:
        store.write_tables(tmp_path, tables, {"title": "坏数据"})
    assert str(e.value) == (f"汇总表检查未通过：{REPORTED}（2 处不符，例如区划 {CITY}、指标 cnt、时期 2023-01-01）")


def test_good_data_passes(fixture_dir, demo_dir):
    for folder in (fixture_dir, store.resolve(demo_dir)):
        con = observations.connect(folder)
        try:
            rollup.build_into(con)  # runs the checks
            rollup.check(con)
            assert con.execute("select count(*) from rollup").fetchone()[0] > 0
        finally:
            observations.close(con)


@pytest.mark.parametrize("how", ["merged", "replaced"])  # incremental roll-up, or a full rebuild
def test_a_commit_that_breaks_an_invariant_changes_nothing(tmp_path, how):
    d = tmp_path / "d"
    store.write_tables(d, fixture_tables(), {"title": "测试数据"})
    v1 = store.commit(d, {"targets": fixture_tables()["targets"]}, note="好")
    months = (pd.Timestamp("2023-01-01").date(), pd.Timestamp("2023-03-01").date())
    before = repo.series(["cnt"], [JIA], *months, d)
    obs = fixture_tables()["observations"]
    mine = (obs["indicator_id"] == "cnt") & (obs["region_code"] == JIA1)
    bad = obs[mine].assign(value=-1000.0)
    with pytest.raises(store.StoreError, match=f"{NEGATIVE}.*当前版本不变"):
        if how == "merged":
            store.commit(d, {}, observations=bad)
        else:
            store.commit(d, {"observations": pd.concat([obs[~mine], bad], ignore_index=True)})
    assert store.current(d) == v1 and store.history(d)[0]["id"] == v1
    pd.testing.assert_frame_equal(repo.series(["cnt"], [JIA], *months, d), before)
    v2 = store.commit(d, {}, observations=bad.assign(value=1.0))  # the next good commit clears the partial folder
    assert store.current(d) == v2 and not list((d / ".versions").glob(".tmp-*"))


def test_the_like_for_like_invariants_fire_on_pairs_that_break_them(tmp_path):
    # lfl is made by the build itself, so no input table can break it alone: break the built table instead
    from minsheng import synth

    synth.build(tmp_path, 5_000, scale="small")
    con = observations.connect(tmp_path)
    try:
        rollup.build_into(con)
        assert con.execute("select count(*) from lfl").fetchone()[0] > 0
        rollup.check(con)  # as built: nothing fires
        con.execute("insert into lfl select * from lfl limit 1")
        with pytest.raises(rollup.InvariantError) as e:
            rollup.check(con)
        assert LFL_UNIQUE in str(e.value) and LFL_BOTH not in str(e.value)
        rollup.build_into(con)
        con.execute("update lfl set n_both = n_both + 1000000")  # more units compared than reported
        with pytest.raises(rollup.InvariantError) as e:
            rollup.check(con)
        assert LFL_BOTH in str(e.value) and LFL_UNIQUE not in str(e.value)
    finally:
        observations.close(con)
