"""Area scope: what each role × area × page shows and exports, row by row; URL tampering and fuzzing.

The area reaches every query as a bound parameter (queries/*.sql `$area`), so these tests look
at what comes out — the region codes in tables, maps, charts and the exported CSV — not at which
widgets are hidden.
"""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from minsheng import auth, repo
from minsheng.ui import pages
from test_session import PW, deferred, downloads, sign_in, start, texts, users  # noqa: F401 (fixtures)
from test_slides import all_text

CITY = "430200000000"      # 株洲市
SHIFENG = "430204000000"   # 石峰区
HETANG = "430202000000"    # 荷塘区
QINGSHUITANG = "430204901000"  # 清水塘街道, in 石峰区
AREAS = {"city": CITY, "county": SHIFENG, "township": QINGSHUITANG}
ROLES = ("viewer", "analyst", "admin")
PAGES = tuple(p.key for p in pages.BROWSE)  # every page a viewer can open (the registry)


def subtree(area: str) -> set[str]:
    return set(repo.regions(area=area)["code"])


def names_outside(area: str) -> set[str]:
    r = repo.regions()
    inside = subtree(area)
    mine = set(r.loc[r["code"].isin(inside), "name"])
    return set(r.loc[~r["code"].isin(inside), "name"]) - mine


@pytest.fixture
def matrix_users(users):
    for role in ROLES:
        for label, code in AREAS.items():
            auth.add_user(f"{role}_{label}", role, code, PW)
    return users


def signed_in(name: str, **params):
    at = sign_in(start(**params), name)
    assert not at.exception, [e.value for e in at.exception]
    return at


def deck_text(payload: bytes) -> str:
    from pptx import Presentation

    return all_text(Presentation(io.BytesIO(payload)))


def codes_on_page(at) -> set[str]:
    """Every 12-digit region code in the page's charts, map and tables."""
    found: set[str] = set()
    for kind in ("plotly_chart", "deck_gl_json_chart"):
        for el in at.get(kind):
            found |= set(re.findall(r"\b43\d{10}\b", el.proto.spec if kind == "plotly_chart" else el.proto.json))
    for df in at.dataframe:
        frame = df.value
        for col in ("区划代码", "code", "region_code"):
            if col in frame:
                found |= set(frame[col].astype(str))
    return found


@pytest.mark.parametrize("label", list(AREAS))
def test_each_area_sees_its_subtree_on_every_page(matrix_users, deferred, label):  # noqa: F811
    area = AREAS[label]
    inside = subtree(area)
    outside_names = names_outside(area)
    for role in ROLES:
        at = signed_in(f"{role}_{label}")
        options = at.selectbox(key="_w_region").options
        # the sidebar offers the area and what lies below it, nothing else
        assert options and {o.strip() for o in options} <= set(repo.regions(area=area)["name"]), (role, label)
        assert at.selectbox(key="_w_region").value == area
        for page in PAGES:
            at.switch_page(pages.get(page).script).run()
            assert not at.exception, (role, label, page, [e.value for e in at.exception])
            shown = codes_on_page(at)
            assert shown <= inside, (role, label, page, shown - inside)
            for el in at.get("plotly_chart"):
                names = {t.get("name") for t in json.loads(el.proto.spec)["data"]}
                assert not names & outside_names, (role, label, page, names & outside_names)
            labels = downloads(at)
            # a township has no task targets: its 目标 page is an empty state without buttons; nor has it
            # regions below that owe it returns: its 报送进度 says so, without a 催报 list
            assert (not labels) if role == "viewer" else (bool(labels) or page in ("goals", "progress")), \
                (role, label, page)
            if page == "explore" and role != "viewer":
                csv = next(b for b in at.get("download_button") if b.proto.label == "下载 CSV")
                rows = pd.read_csv(io.BytesIO(deferred[csv.proto.deferred_file_id]()), dtype=str)
                rows["区划代码"] = rows["区划代码"].str.strip()  # the tab that keeps a code text (README)
                assert len(rows) and set(rows["区划代码"]) <= inside, (role, label)
                xlsx = next(b for b in at.get("download_button") if b.proto.label == "下载 XLSX")
                book = pd.read_excel(io.BytesIO(deferred[xlsx.proto.deferred_file_id]()), sheet_name="数据", dtype=str)
                assert set(book["区划代码"]) == set(rows["区划代码"]), (role, label)
                pptx = next(b for b in at.get("download_button") if b.proto.label == "导出汇报材料")
                text = deck_text(deferred[pptx.proto.deferred_file_id]())
                assert not {n for n in outside_names if n in text}, (role, label)


def test_a_county_user_exports_every_level_inside_and_nothing_outside(matrix_users, deferred):  # noqa: F811
    at = signed_in("analyst_county")
    at.switch_page("views/explore.py").run()
    at.segmented_control(key="_w_xlevel").set_value("township").run()
    csv = next(b for b in at.get("download_button") if b.proto.label == "下载 CSV")
    rows = pd.read_csv(io.BytesIO(deferred[csv.proto.deferred_file_id]()), dtype=str)
    rows["区划代码"] = rows["区划代码"].str.strip()  # the tab that keeps a code text (README)
    towns = set(repo.regions(area=SHIFENG).query("level == 'township'")["code"])
    assert set(rows["区划代码"]) == towns  # every township of 石峰区, and only those


@pytest.mark.parametrize("asked", [CITY, HETANG, "430202001000", "110000000000"])
def test_url_naming_a_region_outside_the_area_says_no_permission(matrix_users, asked):
    at = sign_in(start(region=asked), "analyst_county")  # a link shared by a city-wide colleague
    assert not at.exception
    assert "无权限" in texts(at.error) and at.selectbox(key="_w_region").value == SHIFENG
    for page in PAGES:
        at.switch_page(pages.get(page).script).run()
        assert not at.exception, page
        assert at.selectbox(key="_w_region").value == SHIFENG
        assert codes_on_page(at) <= subtree(SHIFENG), page


INJECTIONS = ["' OR '1'='1", "430200000000' --", "1; DROP TABLE observations; --", "\" or 1=1 --",
              "430204000000) or (1=1", "$area", "%27%20or%201%3D1", "../../etc/passwd", "<script>alert(1)</script>"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_in_sign_in_and_url_leak_nothing(matrix_users, text):
    from asgi_support import Browser, site

    b = Browser(site())                                           # the sign-in page (minsheng/web.py)
    r = b.sign_in(text, text, "/?region=" + text)
    assert r.status == 401 and "用户名或密码错误" in r.text and b.session is None
    at = start(region=text, inds=text, year=text, level=text, lang=text)
    assert not at.exception and not at.metric                     # not signed in: nothing of the data
    at = signed_in("viewer_township", region=text, ind=text, inds=text, year=text, maplevel=text, xregs=text,
                   xinds=text, span=text, month=text)
    for page in PAGES:
        at.switch_page(pages.get(page).script).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert codes_on_page(at) <= subtree(QINGSHUITANG)
        assert "Traceback" not in " ".join(str(e.value) for e in at.error)


def test_the_area_is_a_bound_parameter_of_every_regional_query():
    for name in ("series", "regions", "targets"):
        sql = repo.load_sql(name)
        assert "$area" in sql, name
    for name in ("indicators", "periods"):  # catalogue and data availability: nothing regional
        assert "region" not in repo.load_sql(name).split("from")[0], name


# --- fuzzing every URL parameter (single-user mode, no sign-in) ----------------------------------

KEYS = ["region", "year", "inds", "ind", "kids", "span", "month", "maplevel", "view", "grain", "domains", "dept",
        "gap", "gmonth", "xinds", "xlevel", "xregs", "from", "to", "present", "lang"]
VALUES = st.one_of(st.text(max_size=30), st.sampled_from(INJECTIONS + [CITY, SHIFENG, "2025", "1", "0", "", "en",
                                                                        "mz_dibao_urban_persons", "township"]),
                   st.integers(-10**12, 10**12).map(str))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6), page=st.sampled_from(PAGES))
def test_fuzzed_url_parameters_never_show_a_traceback(params, page):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v.replace("\x00", "")
    at.run()
    if page != "overview":
        at.switch_page(pages.get(page).script).run()
    assert not at.exception, (params, page, [e.value for e in at.exception])


def test_the_map_offers_no_way_up_out_of_the_area(matrix_users):
    up = "返回上级"
    at = signed_in("viewer_county")
    at.switch_page("views/map.py").run()
    assert at.get("deck_gl_json_chart") and up not in [b.label for b in at.button]
    at = signed_in("viewer_city", region=SHIFENG)
    at.switch_page("views/map.py").run()
    assert up in [b.label for b in at.button]
