"""The synthetic data generator and the benchmark harness, on a tiny hierarchy."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import CITY, JIA, JIA1, YI
from bench import cli as bench_cli
from bench.sessions import problems
from minsheng import repo, store, synth
from minsheng.reference import KEYS, Reference, same
from minsheng.ui import pages

ROWS = 20_000
PARENT = {"city": 2, "county": 4, "township": 6, "village": 9}  # digits a code shares with its parent's


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    synth.add_parsers(sub)
    bench_cli.add_parsers(sub)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth_small")
    assert cli("synth", "--rows", "20k", "--out", str(d), "--scale", "small") == 0
    return d


def read(d, name: str) -> pd.DataFrame:
    return pd.read_parquet(store.table_path(d, name))


def test_rows_keys_and_order(small):
    meta = pq.ParquetFile(store.table_path(small, "observations")).metadata
    assert meta.num_rows == ROWS
    obs = read(small, "observations")
    assert not obs.duplicated(synth.OBS_SCHEMA.names[:3]).any()
    # stored by region first (rollup.SORT), so a region's rows sit in one or two row groups
    assert obs.equals(obs.sort_values(["region_code", "indicator_id", "period"], kind="stable").reset_index(drop=True))


def test_schema_matches_the_demo(small, demo_dir):
    for name in store.TABLES:
        ours, theirs = pq.read_schema(store.table_path(small, name)), pq.read_schema(store.table_path(demo_dir, name))
        assert [(f.name, f.type) for f in ours] == [(f.name, f.type) for f in theirs], name
        assert read(small, name).dtypes.to_dict() == read(demo_dir, name).dtypes.to_dict(), name


def test_values_by_kind_level_and_frequency(small):
    obs, ind, reg = read(small, "observations"), read(small, "indicators"), read(small, "regions")
    assert set(ind["kind"]) == {"count", "amount", "rate", "standard"}
    assert {"village", "township", "county"} <= set(ind["report_level"])
    o = obs.merge(ind, left_on="indicator_id", right_on="id").merge(reg, left_on="region_code", right_on="code")
    assert (o["level"] == o["report_level"]).all()
    rate = o[o["kind"] == "rate"]
    assert len(rate) and (rate["numerator"] <= rate["denominator"]).all() and (rate["denominator"] > 0).all()
    assert np.allclose(rate["value"], 100 * rate["numerator"] / rate["denominator"], atol=1e-4)
    assert o.loc[o["kind"] != "rate", ["numerator", "denominator"]].isna().all().all()
    p = pd.to_datetime(o["period"])
    assert (p.dt.day == 1).all() and p.min() >= pd.Timestamp("2016-01-01") and p.max() <= pd.Timestamp("2025-12-01")
    assert (p[o["frequency"] == "year"].dt.month == 1).all()
    cum = o[o["cumulative"]].sort_values(["indicator_id", "region_code", "period"])
    ytd = cum.groupby(["indicator_id", "region_code", pd.to_datetime(cum["period"]).dt.year])["value"].diff()
    assert (ytd.dropna() >= 0).all()  # year-to-date never falls within a year


def test_hierarchy_codes(small):
    reg = read(small, "regions")
    assert reg["code"].is_unique and reg["code"].str.fullmatch(r"43\d{10}").all()
    assert reg.loc[reg["parent_code"].isna(), "code"].tolist() == [synth.PROVINCE]
    level = dict(zip(reg["code"], reg["level"]))
    for r in reg.dropna(subset=["parent_code"]).itertuples():
        assert synth.LEVELS.index(level[r.parent_code]) == synth.LEVELS.index(r.level) - 1
        n = PARENT[r.level]
        assert r.parent_code == r.code[:n] + "0" * (12 - n) and r.code != r.parent_code
    assert reg["level"].value_counts().to_dict() == dict(zip(synth.LEVELS, (1, *synth.SCALES["small"][:4])))
    t = read(small, "targets")
    assert len(t) and set(t["region_code"]) <= set(reg["code"]) and (t["target"] > 0).all()


def test_deterministic_and_exact(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    synth.build(a, 7_777, seed=3, scale="small")
    synth.build(b, 7_777, seed=3, scale="small")
    assert read(a, "observations").equals(read(b, "observations"))
    assert read(a, "targets").equals(read(b, "targets"))
    cap = np.array([5, 50, 500, 5000])
    for n in (0, 1, 54, 3000, 5555):
        q = synth.quotas(cap, n)
        assert q.sum() == n and (q <= cap).all()
    with pytest.raises(ValueError):
        synth.quotas(cap, 5556)


@pytest.mark.parametrize("ids, roots, d0, d1", [
    (["cnt", "stock", "rate", "std", "amt"], [CITY, JIA, YI, JIA1], "2022-01-01", "2023-12-31"),
    (["std"], [CITY], "2023-01-01", "2023-01-01"),
    (["stock", "rate"], [JIA, JIA1, "000000000000"], "2023-02-01", "2023-02-01"),
])
def test_pandas_reference_matches_series_sql(fixture_dir, ids, roots, d0, d1):
    d0, d1 = dt.date.fromisoformat(d0), dt.date.fromisoformat(d1)
    ours = repo.series(ids, roots, d0, d1, fixture_dir)
    base = Reference(fixture_dir).series(ids, roots, d0, d1)
    assert same(ours, base, KEYS) is None


def test_bench_smoke(small, tmp_path):
    out = tmp_path / "bench.json"
    assert cli("bench", "--smoke", "--data", str(small), "--json", str(out)) == 0
    r = json.loads(out.read_text(encoding="utf-8"))
    assert r["rows"] == ROWS and r["peak_rss_mb"] > 0 and r["baseline_peak_rss_mb"] > 0
    names = [q["name"] for q in r["queries"]]
    assert names == ["overview", "trend", "map", "goal", "export", "export_series"]
    for q in r["queries"]:
        assert {"name", "p50_ms", "p95_ms", "cold_ms", "baseline_p50_ms", "baseline_p95_ms", "ratio"} <= set(q)
        assert q["agree"] is True and q["rows_out"] > 0, q
        assert q["ratio"] > 0
    assert {"overview", "trend", "map", "map_rerun"} <= set(r["page_run_ms"]) and not r["page_errors"]
    assert r["map_deck_kb"] is None or 0 < r["map_deck_kb"] < 200  # None: a data set without boundaries


def test_imports_smoke(small, tmp_path):
    """bench --only-imports: two months through the importer and a compaction, on a linked copy."""
    before = {p: os.stat(p).st_ino for p in small.rglob("*") if p.is_file()}
    out = tmp_path / "imports.json"
    assert cli("bench", "--smoke", "--only-imports", "--data", str(small), "--json", str(out)) == 0
    r = json.loads(out.read_text(encoding="utf-8"))["imports"]
    first = read(small, "observations")
    assert r["base_rows"] == len(first)
    assert all(m["rows"] > 0 and m["added"] == m["rows"] and m["commit_s"] > 0 for m in r["months"])
    assert r["rows_after"] == len(first) + sum(m["added"] for m in r["months"])  # new months: every row is new
    assert r["compact"]["version"] and r["compact"]["peak_mb"] > 0
    assert {p: os.stat(p).st_ino for p in small.rglob("*") if p.is_file()} == before  # the data itself untouched


def test_sessions_smoke(small, tmp_path):
    """Three users at once on a real server for 15 s: pages run, draw data, and nothing fails."""
    out = tmp_path / "sessions.json"
    assert cli("bench", "--data", str(small), "--sessions", "3", "--duration", "15", "--only-sessions",
               "--json", str(out)) == 0
    s = json.loads(out.read_text(encoding="utf-8"))["sessions"]
    assert {"n", "duration_s", "runs", "errors", "p50_ms", "p95_ms", "peak_rss_mb"} <= set(s)
    assert s["n"] == 3 and s["duration_s"] == 15 and s["errors"] == 0, s["error_samples"]
    assert s["runs"] >= 10 and 0 < s["p50_ms"] <= s["p95_ms"] and s["peak_rss_mb"] > 50
    assert set(s["pages"]) == {p.title for p in pages.BROWSE}
    for name in ("总览", "趋势", "地图", "数据"):  # every session chose indicators that have data
        assert s["pages"][name]["runs"] and s["pages"][name]["drawn"], (name, s["pages"])


def test_session_errors_are_recognised():
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    def element(**fields):
        m = ForwardMsg()
        for path, value in fields.items():
            *parents, leaf = path.split(".")
            target = m.delta.new_element
            for p in parents:
                target = getattr(target, p)
            setattr(target, leaf, value)
        return m

    assert problems(element(**{"exception.type": "KeyError", "exception.message": "x"}), "总览") == ["总览: KeyError: x"]
    err = element(**{"alert.body": "数据目录不可用", "alert.format": 1})
    assert problems(err, "趋势") == ["趋势: st.error 数据目录不可用"]
    assert problems(element(**{"alert.body": "请至少选择一个指标。", "alert.format": 3}), "趋势") == []
    trace = element(**{"markdown.body": "Traceback (most recent call last):\n  File ..."})
    assert problems(trace, "数据")
    assert problems(element(**{"markdown.body": "正文"}), "数据") == []
    lost = ForwardMsg()
    lost.page_not_found.page_name = "nosuch"
    assert problems(lost, "nosuch") == ["nosuch: 页面不存在"]
    done = ForwardMsg()
    done.script_finished = ForwardMsg.FINISHED_WITH_COMPILE_ERROR
    assert problems(done, "地图")
    done.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    assert problems(done, "地图") == []
