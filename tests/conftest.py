"""Shared fixtures: a tiny hand-made dataset (separate from the demo) and paths."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from minsheng import store

ROOT = Path(__file__).resolve().parent.parent
# The team's shared folder (seeds, reference statistics) beside the checkout, or where MINSHENG_SHARED
# says (a second checkout elsewhere); tests that read it skip where it is absent, as in a user's clone.
SHARED = Path(os.environ.get("MINSHENG_SHARED") or ROOT.parent / "shared")

CITY, JIA, YI = "990100000000", "990101000000", "990102000000"
JIA1, JIA2, YI1 = "990101001000", "990101002000", "990102001000"


def _obs(ind, region, period, value, num=None, den=None, status="final"):
    return dict(indicator_id=ind, region_code=region, period=pd.Timestamp(period).date(), value=float(value),
                numerator=num, denominator=den, status=status, source=f"测试来源{ind}", batch_id="t")


def fixture_tables() -> dict[str, pd.DataFrame]:
    """Small enough to compute every expectation by hand (see test_queries.py)."""
    regions = pd.DataFrame([
        dict(code=CITY, name="测试市", level="city", parent_code=None, lon=113.0, lat=27.0),
        dict(code=JIA, name="甲县", level="county", parent_code=CITY, lon=113.1, lat=27.1),
        dict(code=YI, name="乙县", level="county", parent_code=CITY, lon=113.2, lat=26.9),
        dict(code=JIA1, name="甲一镇", level="township", parent_code=JIA, lon=113.11, lat=27.11),
        dict(code=JIA2, name="甲二镇", level="township", parent_code=JIA, lon=113.12, lat=27.12),
        dict(code=YI1, name="乙一镇", level="township", parent_code=YI, lon=113.21, lat=26.91),
    ])
    regions = regions.assign(valid_from=pd.NaT, valid_to=pd.NaT, successor_code=None)  # no code changes here
    ind = [
        ("cnt", "累计计数", "人", "count", "month", True, "township"),
        ("stock", "月末人数", "人", "count", "month", False, "township"),
        ("rate", "参保率", "%", "rate", "year", False, "township"),
        ("std", "低保标准", "元/月", "standard", "year", False, "county"),
        ("amt", "资金", "万元", "amount", "year", False, "county"),
    ]
    indicators = pd.DataFrame([dict(id=i, name_zh=n, name_en=i, unit=u, domain="民政", kind=k, frequency=f,
                                    cumulative=c, report_level=lv, higher_is_better=True, description="",
                                    source="测试", seq=s) for s, (i, n, u, k, f, c, lv) in enumerate(ind)])
    o = []
    for region, vals23, vals22 in ((JIA1, [1, 3, 6], [1, 2, 3]), (JIA2, [2, 2, 5], [1, 3, 4]),
                                   (YI1, [10, 20, 30], [5, 10, 20])):
        for m, v in enumerate(vals23, 1):
            o.append(_obs("cnt", region, f"2023-{m:02d}-01", v, status="provisional" if m == 3 else "final"))
        for m, v in enumerate(vals22, 1):
            o.append(_obs("cnt", region, f"2022-{m:02d}-01", v))
    # stock: 乙一镇 did not report February 2023 — a gap, not a zero
    for region, vals in ((JIA1, [100, 110, 120]), (JIA2, [50, 50, 60]), (YI1, [200, None, 220])):
        for m, v in enumerate(vals, 1):
            if v is not None:
                o.append(_obs("stock", region, f"2023-{m:02d}-01", v))
    for year, pairs in ((2023, {JIA1: (90, 100), JIA2: (10, 100), YI1: (270, 300)}),
                        (2022, {JIA1: (80, 100), JIA2: (20, 100), YI1: (240, 300)})):
        for region, (n, d) in pairs.items():
            o.append(_obs("rate", region, f"{year}-01-01", 100 * n / d, float(n), float(d)))
    o += [_obs("std", CITY, "2023-01-01", 600), _obs("std", JIA, "2023-01-01", 580), _obs("std", YI, "2023-01-01", 620),
          _obs("std", JIA, "2022-01-01", 550), _obs("std", YI, "2022-01-01", 560)]
    o += [_obs("amt", JIA, "2023-01-01", 12.5), _obs("amt", YI, "2023-01-01", 7.5)]
    targets = pd.DataFrame([
        dict(indicator_id="cnt", region_code=CITY, year=2023, target=80.0, department="民政局", task="累计任务",
             deadline=dt.date(2023, 12, 31)),
        dict(indicator_id="rate", region_code=CITY, year=2023, target=80.0, department="医保局", task="参保率任务",
             deadline=dt.date(2023, 12, 31)),
    ])
    return dict(regions=regions, indicators=indicators, observations=pd.DataFrame(o), targets=targets)


def app(page: str | None = None, **params):
    """The dashboard in an AppTest, opened with URL parameters `params` (and switched to `page`), run
    once without an exception."""
    from streamlit.testing.v1 import AppTest

    from minsheng.ui import pages

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(pages.get(page).script)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="session")
def fixture_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fixture_data")
    store.write_tables(d, fixture_tables(), {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    return d


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return ROOT / "data"


@pytest.fixture(scope="session", autouse=True)
def private_users_and_audit(tmp_path_factory):
    """No test reads or writes the repository's users file or audit log: both live in a temp dir
    (empty users file = single-user mode). Tests that need users point MINSHENG_USERS elsewhere."""
    d = tmp_path_factory.mktemp("auth")
    mp = pytest.MonkeyPatch()
    mp.setenv("MINSHENG_USERS", str(d / "users.json"))
    mp.setenv("MINSHENG_AUDIT", str(d / "audit.log"))
    mp.delenv("MINSHENG_ALLOW_NO_LOGIN", raising=False)
    # commits do not evaluate the 预警 rules in a thread of their own (tests/test_alerts_after_commit.py does)
    mp.setenv("MINSHENG_NO_ALERT_HOOK", "1")
    yield d
    mp.undo()


# The browser fixtures are defined once, here: a session fixture imported into two test modules
# would be two fixtures, and a second Playwright started inside the first one's event loop fails.
from browser_support import app_server, blank_server, browser, chromium_path  # noqa: E402,F401


# A copy of the demo data for an import test: without the demo's returns (minsheng/cycle_demo.py), whose
# approvals lock the months the corpus files change (an import there would need a reason, cycle.locked)
WITHOUT_RETURNS = shutil.ignore_patterns(".versions", "submissions.parquet", "returns.parquet", "drafts")


def own_forms(directory: Path, rows: pd.DataFrame) -> str:
    """A copy of the demo data with the test's own 报表 and none of the demo's returns (minsheng/cycle_demo.py):
    what the test counts is what it sent."""
    from minsheng import cycle, fields, forms

    empty = {name: fields.typed(pd.DataFrame(columns=list(schema)), schema)
             for name, schema in (("submissions", cycle.EVENTS), ("returns", cycle.RETURNS))}
    return store.commit(directory, {"forms": forms._typed(rows), **empty}, action="import", kind="forms")


def demo_world(tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the bundled demo data as the app's data directory, with its own users file and audit
    log (no versions, no drafts): a test may write into it."""
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d, ignore=shutil.ignore_patterns("drafts", ".versions"))
    monkeypatch.setenv("MINSHENG_DATA", str(d))
    monkeypatch.setenv("MINSHENG_USERS", str(tmp_path / "users.json"))
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    return d
