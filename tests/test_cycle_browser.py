"""The reporting cycle end to end in headless Chromium (issue 16): a township reporter fills 民政月报 with one bad
cell, sees the Chinese error beside it, fixes it and submits; the county reviewer returns it with a reason;
the reporter sees the reason and resubmits; the reviewer approves; the city's 报送进度 shows it ✓ and the figure
appears upstream, while another township's unapproved return is labelled 未审核 when the city includes it.

One server on a copy of the demo data with a 报表 of its own and a users file of its own; every account signs
in through the real /signin form. The period is whatever the page offers as due now (the machine's date), and
the figures are last year's for the same month where the data has them (so the importer's 同比 check stays
quiet), read here from the Parquet files. Screenshots of each step are kept under artifacts/cycle/.
"""

from __future__ import annotations

import datetime as dt
import shutil
from contextlib import contextmanager

import pandas as pd
import pytest

from conftest import own_forms
from browser_support import APP_SCRIPT, ROOT, StreamlitServer, new_page, sign_in_form, wait_idle
from minsheng import auth, cycle, forms, store

pytestmark = pytest.mark.browser

QST, XSL, SHIFENG, CITY = "430204901000", "430204902000", "430204000000", "430200000000"
MZ = ["mz_dibao_urban_persons", "mz_dibao_rural_persons", "mz_tekun_persons", "mz_low_income_monitored"]
PW = "Cycle-browser-2026!"
SHOTS = ROOT / "artifacts" / "cycle"


@pytest.fixture(scope="module")
def server(chromium_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("cycle_browser")
    data = d / "data"
    shutil.copytree(ROOT / "data", data)
    # asked from the month now due (the page's default period: the newest that has ended), so the matrix
    # shows the loop's month and the one before it is not owed
    this = dt.datetime.now(cycle.CHINA).date().replace(day=1)
    due = (this - dt.timedelta(days=1)).replace(day=1)
    rows = [dict(form_id="mz_month", form_name="民政月报", report_level="township", frequency="month", deadline_day=5,
                 valid_from=due, valid_to=None, department="民政", indicator_id=i, position=n)
            for n, i in enumerate(MZ)]
    env = {"MINSHENG_USERS": str(d / "users.json"), "MINSHENG_AUDIT": str(d / "audit.log"), "MINSHENG_DATA": str(data)}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        from argon2 import PasswordHasher
        mp.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        own_forms(data, pd.DataFrame(rows))
        for name, role, area in (("qst_tb", "reporter", QST), ("xsl_tb", "reporter", XSL),
                                 ("sf_sh", "reviewer", SHIFENG), ("zz_ld", "viewer", CITY)):
            auth.add_user(name, role, area, PW)
    s = StreamlitServer(APP_SCRIPT, ROOT, "cycle", env=env).start()
    s.data = data
    yield s
    s.stop()


def sign_in(browser, server, name: str, path: str = ""):
    ctx, page, _ = new_page(browser, width=1400, height=1200)
    sign_in_form(page, server, name, PW)
    if path:
        page.goto(f"{server.url}/{path}")
        wait_idle(page)
    return ctx, page


@contextmanager
def account(browser, server, name: str, path: str = ""):
    """A signed-in page of its own for one step of the loop, closed after it."""
    ctx, page = sign_in(browser, server, name, path)
    try:
        yield page
    finally:
        ctx.close()


def main_text(page) -> str:
    """The main area's text, one line per line drawn (no blank ones)."""
    text = page.locator('[data-testid="stMain"]').inner_text().replace("\u2060", "")
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def value_box(page, n: int):
    """The n-th indicator's 数值 box of the return (the form's order)."""
    return page.locator('[data-testid="stForm"] [data-testid="stTextInput"] input').nth(n)


def fill(page, values: list[str]) -> None:
    for n, v in enumerate(values):
        box = value_box(page, n)
        box.fill(v)


def press(page, label: str) -> None:
    page.locator('[data-testid="stForm"]').get_by_role("button", name=label).click()
    wait_idle(page)


def state(server, region: str, period: dt.date) -> str:
    """The return's state as the store has it (the page's words are checked beside it)."""
    return cycle.status(server.data, cycle.Key("mz_month", region, period)).state


def picked(page, label: str) -> str:
    return page.get_by_role("combobox", name=label).input_value()


def due_period(page) -> dt.date:
    """The period the 时期 picker offers (the month now due), as a date."""
    year, month = picked(page, "时期").replace("月", "").split("年")
    return dt.date(int(year), int(month), 1)


def last_year(data, period: dt.date, region: str) -> list[str]:
    obs = pd.read_parquet(store.table_path(store.resolve(data), "observations"))
    obs = obs[(obs["region_code"] == region) & (pd.to_datetime(obs["period"]).dt.date == period.replace(year=period.year - 1))]
    got = obs.set_index("indicator_id")["value"]
    return [f"{got[i]:.0f}" if i in got.index else "50" for i in MZ]


def test_the_whole_loop(browser, server):
    with account(browser, server, "qst_tb", "report") as page:
        assert picked(page, "填报单位") == "清水塘街道" and picked(page, "报表").startswith("民政月报")
        assert "状态：未报" in main_text(page)
        period = due_period(page)
        good = last_year(server.data, period, QST)
        fill(page, [good[0], "暂无", good[2], good[3]])
        press(page, "上报")
        text = main_text(page)
        # beside 农村低保对象's row (the line above the form says it once, for one run, so it is not waited for)
        assert "农村低保对象（人）\n207\n223\n错误：数值 “暂无”不是数字" in text.replace("\n\n", "\n"), text
        assert state(server, QST, period) == cycle.NONE                    # nothing sent
        shot(page, "01-填报-一个错误")
        value_box(page, 1).fill(good[1])
        press(page, "上报")
        text = main_text(page)
        assert state(server, QST, period) == cycle.SUBMITTED
        assert "状态：已上报" in main_text(page)
        assert value_box(page, 0).is_disabled()                           # locked while pending
        shot(page, "02-已上报")

    with account(browser, server, "sf_sh", "review") as page:
        assert picked(page, "审核的区划").startswith("清水塘街道") and "状态：已上报" in main_text(page)
        page.get_by_label("退回原因（必填，将告知填报人）").fill("农村低保对象与上月差异较大，请核实后重报")
        page.get_by_role("button", name="退回").click()
        wait_idle(page)
        assert state(server, QST, period) == cycle.RETURNED
        shot(page, "03-审核-退回")

    with account(browser, server, "qst_tb", "report") as page:
        text = main_text(page)
        assert "退回原因：农村低保对象与上月差异较大，请核实后重报" in text
        for _ in range(40):  # the form's boxes are drawn with their values; on a loaded machine, a moment later
            if value_box(page, 1).input_value() == good[1]:
                break
            page.wait_for_timeout(250)
        assert value_box(page, 1).input_value() == good[1]               # the last return, to correct
        shot(page, "04-填报-看到退回原因")
        press(page, "上报")
        assert state(server, QST, period) == cycle.SUBMITTED and "状态：已上报" in main_text(page)

    with account(browser, server, "xsl_tb", "report") as page:             # another township: sent, never reviewed
        fill(page, last_year(server.data, period, XSL))
        press(page, "上报")
        assert state(server, XSL, period) == cycle.SUBMITTED

    with account(browser, server, "sf_sh", "review") as page:
        page.get_by_role("button", name="审核通过").click()
        wait_idle(page)
        assert state(server, QST, period) == cycle.APPROVED
        shot(page, "05-审核-通过")

    with account(browser, server, "zz_ld", f"progress?region={SHIFENG}") as page:
        page.wait_for_selector('[data-testid="stDataFrame"]')
        text = main_text(page)
        assert "应报\n8" in text and "已报\n2" in text and "待审核\n1" in text, text   # 清水塘 ✓, 响石岭 待审核
        shot(page, "06-报送进度-石峰区")
        page.goto(f"{server.url}/?region={QST}")
        wait_idle(page)
        text = main_text(page)
        month = f"{period.year}年{period.month}月"
        assert f"城市低保对象\n{int(good[0]):,} 人" in text and month in text, text   # approved: upstream
        page.goto(f"{server.url}/?region={XSL}")
        wait_idle(page)
        assert "含未审核数据" not in main_text(page)
        page.locator('[data-testid="stSidebar"]').get_by_text("含未审核数据").click()
        wait_idle(page)
        text = main_text(page)
        assert "本页含未审核数据" in text and "含未审核数据" in text
        shot(page, "07-含未审核数据")
