"""A bureau adopting the product: an empty store, the official division list, its own returns and the
2020 census by county — end to end through the command line, every figure checked with pandas.

The division list is built in the shape the NBS publishes (tests/official_shapes.py: 9 counties, 112
township-level units, 1,400 villages of which 88 share a name). The census rows are the real published
ones (`../shared/reference/`); the test that needs them skips where that folder is absent.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, SHARED
from official_shapes import CITY, COUNTIES, csv_text, division_list
from minsheng import regions as region_tree, repo, store

CENSUS = SHARED / "reference" / "census2020_hunan_by_county"


def cli(data: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, MINSHENG_DATA=str(data), PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "minsheng", *args], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=300)
    assert (run.returncode == 0) == ok, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    return run


INDICATORS = """指标编码,指标名称,单位,领域,类型,频度,累计,报送级别,越大越好
mz_visits,入户走访,次,民政,计数,月度,否,村,是
pop_65p_share,65岁及以上人口占比,%,卫健,比率,年度,否,县,否
"""


@pytest.fixture(scope="module")
def adopted(tmp_path_factory):
    """An empty store with the city's division list and the indicator catalogue loaded."""
    root = tmp_path_factory.mktemp("adopt")
    data = root / "data"
    cli(data, "init", str(data))
    listing = root / "统计用区划代码.csv"
    listing.write_text(csv_text(division_list()), encoding="utf-8-sig")
    cli(data, "import", str(listing), "--kind", "regions", "--yes")
    catalogue = root / "指标.csv"
    catalogue.write_text(INDICATORS, encoding="utf-8-sig")
    cli(data, "import", str(catalogue), "--kind", "indicators", "--yes")
    return root, data


def test_the_official_list_loads_whole_with_its_hierarchy(adopted):
    root, data = adopted
    got = repo.regions(directory=data).set_index("code")
    rows = pd.DataFrame(division_list()).set_index("code")
    assert len(got) == len(rows) == 1 + 9 + 112 + 1400
    assert (got["name"] == rows["name"]).all()
    # the hierarchy by the digits of the code, worked out here
    def parent(code: str) -> str | None:
        if code.endswith("00000000"):
            return None
        if code.endswith("000000"):
            return code[:4] + "00000000"
        if code.endswith("000"):
            return code[:6] + "000000"
        return code[:9] + "000"
    assert got.loc[CITY[0], "level"] == "city" and pd.isna(got.loc[CITY[0], "parent_code"])
    for code in rows.index:
        assert (got.loc[code, "parent_code"] if pd.notna(got.loc[code, "parent_code"]) else None) == parent(code), code
    assert got["level"].value_counts().to_dict() == {"village": 1400, "township": 112, "county": 9, "city": 1}
    tree = region_tree.Tree(got.reset_index())
    labels = [tree.label(c) for c in tree.order]
    assert len(set(labels)) == len(labels)  # 88 villages share a name; no two labels do


def test_returns_by_village_roll_up_to_the_city_with_gaps_as_gaps(adopted, tmp_path):
    root, data = adopted
    villages = [r["code"] for r in division_list() if not r["code"].endswith("000")]
    lines, expected = ["区划代码,指标编码,时期,数值"], []
    for i, v in enumerate(villages):
        for m in (1, 2, 3):
            if (i + m) % 17 == 0:
                continue  # this village did not report this month
            value = (i * 7 + m * 3) % 50
            lines.append(f"{v},mz_visits,2024-{m:02d},{value}")
            expected.append(dict(code=v, month=m, value=value))
    returns = tmp_path / "走访月报.csv"
    returns.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    cli(data, "import", str(returns), "--yes")
    e = pd.DataFrame(expected)
    s = repo.series(["mz_visits"], [CITY[0]] + [c + "000000" for c, _ in COUNTIES], dt.date(2024, 1, 1),
                    dt.date(2024, 12, 1), directory=data)
    city = s[s["region_code"] == CITY[0]]
    city = city.set_index(city["period"].dt.month)
    for m in (1, 2, 3):
        month = e[e["month"] == m]
        assert city.loc[m, "value"] == month["value"].sum()
        assert city.loc[m, "n_reported"] == len(month) and city.loc[m, "n_expected"] == 1400
    for code6, _ in COUNTIES:
        county = s[s["region_code"] == code6 + "000000"]
        for _, row in county.iterrows():
            m = pd.Timestamp(row["period"]).month
            assert row["value"] == e[(e["month"] == m) & e["code"].str.startswith(code6)]["value"].sum()


@pytest.mark.skipif(not CENSUS.is_dir(), reason="the census reference folder is not in this checkout")
def test_the_census_by_county_gives_the_city_share_as_a_ratio_of_sums(adopted, tmp_path):
    root, data = adopted
    pop = pd.read_csv(CENSUS / "population_hunan.csv", dtype={"CODE": str}, encoding="utf-8-sig")
    ages = pd.read_csv(CENSUS / "ages_hunan.csv", dtype={"CODE": str}, encoding="utf-8-sig")
    c = pop.merge(ages, on=["CODE", "NAME"])
    ours = c[c["CODE"].isin([code for code, _ in COUNTIES])].copy()
    assert len(ours) == 9
    ours["den"] = ours["POPU"]
    ours["num"] = (ours["POPU"] * ours["AGES_65P"]).round()
    lines = ["区划代码,指标编码,时期,分子,分母"] + [f"{r.CODE},pop_65p_share,2020,{int(r.num)},{int(r.den)}"
                                          for r in ours.itertuples()]
    census = tmp_path / "七普65岁以上.csv"
    census.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    cli(data, "import", str(census), "--yes")
    s = repo.series(["pop_65p_share"], [CITY[0]], dt.date(2020, 1, 1), dt.date(2020, 12, 1), directory=data)
    assert abs(s["value"].iloc[0] - 100 * ours["num"].sum() / ours["den"].sum()) < 1e-6
    assert int(s["denominator"].iloc[0]) == int(ours["POPU"].sum())
    # 430271 is a code the reference's author assigned to a functional zone, not an official one
    zone = c[c["CODE"] == "430271"]
    if len(zone):
        bad = tmp_path / "含非官方代码.csv"
        bad.write_text("区划代码,指标编码,时期,分子,分母\n430271,pop_65p_share,2020,1,2\n", encoding="utf-8-sig")
        run = cli(data, "import", str(bad), "--yes", ok=False)
        assert "430271" in run.stdout + run.stderr and "第 2 行" in run.stdout + run.stderr


def test_an_observation_before_any_region_is_refused_in_chinese(tmp_path):
    data = tmp_path / "empty"
    cli(data, "init", str(data))
    f = tmp_path / "obs.csv"
    f.write_text("区划代码,指标编码,时期,数值\n430202000000,mz_visits,2024-01,1\n", encoding="utf-8-sig")
    run = cli(data, "import", str(f), "--yes", ok=False)
    assert "区划" in run.stdout + run.stderr
    assert store.version(data) == store.version(data)  # the store still opens
