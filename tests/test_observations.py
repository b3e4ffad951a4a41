"""The observations file (minsheng/observations.py): stored sorted, merged by streaming."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from conftest import fixture_tables
from minsheng import files, layers, observations, store


def test_a_delta_folded_by_streaming_matches_a_plain_merge_across_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(observations, "ROW_GROUP", 4)  # many small groups: new rows land before, between, after
    t = fixture_tables()
    a, b = tmp_path / "a", tmp_path / "b"
    store.write_tables(a, t, {"title": "测试"})
    b.mkdir()
    old = pd.read_parquet(a / "observations.parquet")
    assert pq.read_metadata(a / "observations.parquet").num_row_groups > 5
    keys = ["indicator_id", "region_code", "period"]
    new = pd.concat([
        old.iloc[[3, 10, 11]].assign(value=-1.0),                                     # replace three rows
        old.iloc[[0]].assign(region_code="000000000000"),                             # before everything
        old.iloc[[5]].assign(period=pd.Timestamp("2030-01-01").date(), value=7.0),    # between groups
        old.iloc[[len(old) - 1]].assign(region_code="999999999999"),                  # after everything
    ], ignore_index=True)
    files.link_or_copy(a / "observations.parquet", b / "observations.parquet")  # a new version links the base
    assert observations.write_delta(a, "observations", new, b) == len(new)
    flags = pd.read_parquet(layers.delta_path(b, "observations"))
    assert flags["in_base"].sum() == 3  # the three replaced rows, found in the base by key
    n = observations.fold(b, "observations", b)
    got = pd.read_parquet(b / "observations.parquet")
    kept = old.merge(new[keys], on=keys, how="left", indicator=True).query("_merge == 'left_only'").drop(columns="_merge")
    want = pd.concat([kept, new], ignore_index=True).sort_values(list(observations.SORT), kind="stable").reset_index(drop=True)
    assert n == len(want) == len(old) + 3
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)
    assert pq.read_schema(b / "observations.parquet") == pq.read_schema(a / "observations.parquet")
    assert not layers.has_delta(b, "observations")
    assert pd.read_parquet(a / "observations.parquet").equals(old)  # the linked base was replaced, not written into
