"""The demo's reporting cycle: two 报表 and a history of returns, so 报送进度, 数据填报 and 数据审核 have
something to show on the bundled data.

- 民政月报 (株洲市's townships, monthly, 次月5日): 城市低保对象, 农村低保对象, 特困供养人员, 低收入人口监测人数.
- 医保月报 (every county, monthly, 次月10日): 医疗救助, 异地就医直接结算率.

From July to the demo's last month every return was sent and approved, most on time, some a few days late,
a few sent back once with a reason and sent again; their figures are the demo's own observations (approval
changed no number). For the month after it, now being reported, some returns await review, a few were sent
back, the rest are not in yet — none approved, so the data still end where the demo does.

Written as the base version's side tables (store.SIDE) in one go: going through cycle.submit and approve
would make hundreds of versions, which the bundled directory does not keep. Account names are role
accounts (石峰区审核, 清水塘街道填报), not people. Deterministic: the same as_of, the same history.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from minsheng import cycle, fields, forms, lineage

FIRST = (2026, 7)  # the cycle's first month in the demo
FORMS = (  # the 民政月报 is 株洲市民政局's: 屈原管理区's townships (岳阳市) do not send it
    ("mz_month", "民政月报", "township", 5, "民政", "430200000000",
     ("mz_dibao_urban_persons", "mz_dibao_rural_persons", "mz_tekun_persons", "mz_low_income_monitored")),
    ("yb_month", "医保月报", "county", 10, "医保", None, ("yb_medical_aid", "yb_remote_settle_rate")),
)
REASONS = ("城市低保对象较上月变化过大，请核实是否录入有误后重报",
           "特困供养人员与民政系统台账不一致，请核对后重报",
           "异地就医直接结算率的分子分母与医保平台数据不符，请更正")


def forms_frame() -> pd.DataFrame:
    rows = [dict(form_id=fid, form_name=name, report_level=level, frequency="month", deadline_day=day,
                 valid_from=dt.date(*FIRST, 1), valid_to=None, department=dept, issued_by=issuer, indicator_id=iid,
                 position=n)
            for fid, name, level, day, dept, issuer, ids in FORMS for n, iid in enumerate(ids)]
    return forms._typed(pd.DataFrame(rows))


def _at(day: dt.date, hour: int, minute: int = 0) -> str:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=cycle.CHINA).isoformat(timespec="seconds")


def _month(y: int, m: int, step: int = 0) -> dt.date:
    n = y * 12 + m - 1 + step
    return dt.date(n // 12, n % 12 + 1, 1)


def history(regions: pd.DataFrame, obs: pd.DataFrame, as_of: tuple[int, int]) -> dict[str, pd.DataFrame]:
    """forms, submissions and returns for the demo's regions and observations."""
    cat = forms.catalogue(forms_frame())
    names = dict(zip(regions["code"], regions["name"]))
    parent = dict(zip(regions["code"], regions["parent_code"]))
    rng = np.random.default_rng(20260701)
    o = obs.assign(period=pd.to_datetime(obs["period"]).dt.date).set_index(["indicator_id", "region_code", "period"])
    events, returns = [], []
    last = dt.date(*as_of, 1)
    now = _month(*as_of, 1)  # the month being reported (its returns are due next month)

    def reviewer(code: str) -> str:
        return f"{names.get(parent.get(code), '上级')}审核"

    def send(form, code, period, seq, at, figures, reason=None):
        events.append(dict(form_id=form.id, region_code=code, period=period, seq=seq, event="submit", state="submitted",
                           actor=f"{names[code]}填报", at=at, reason=reason, batch_id=None, changed=len(figures)))
        returns.extend(dict(form_id=form.id, seq=seq, **f) for f in figures)

    def review(form, code, period, seq, at, event, reason=None):
        events.append(dict(form_id=form.id, region_code=code, period=period, seq=seq, event=event,
                           state="approved" if event == "approve" else "returned", actor=reviewer(code), at=at,
                           reason=reason, batch_id="demo" if event == "approve" else None, changed=0))

    for form in cat.values():
        months = form.periods(dt.date(*FIRST, 1), now)
        owed = forms.expected(None, form, months, regions)
        for code, period, due in owed.itertuples(index=False):
            figures = []
            for iid in form.indicators:
                key = (iid, code, period if period <= last else last)
                if key not in o.index:
                    continue
                r = o.loc[key]
                figures.append(dict(indicator_id=iid, region_code=code, period=period, value=float(r["value"]),
                                    numerator=r["numerator"], denominator=r["denominator"], status="final",
                                    source=f"{names[code]}填报"))
            if len(figures) < len(form.indicators):
                continue  # a region the demo has no figures for reports nothing
            roll = rng.random()
            if period <= last:  # reported and approved; a few late, a few sent back once first
                sent = due - dt.timedelta(days=int(rng.integers(0, 4))) if roll > 0.12 else \
                    due + dt.timedelta(days=int(rng.integers(1, 5)))
                seq = 1
                if 0.12 < roll < 0.16:
                    wrong = [dict(f, value=f["value"] * 10) if n == 0 else f for n, f in enumerate(figures)]
                    send(form, code, period, 1, _at(sent - dt.timedelta(days=2), 9, 30), wrong)
                    review(form, code, period, 2, _at(sent - dt.timedelta(days=1), 15), "return", REASONS[0])
                    seq = 3
                send(form, code, period, seq, _at(sent, 10, int(rng.integers(0, 59))), figures)
                review(form, code, period, seq + 1, _at(sent + dt.timedelta(days=1), 16), "approve")
                continue
            # the month being reported: no approval yet, so the data end where the demo does
            day = lineage.period_end(period, form.frequency) + dt.timedelta(days=1)
            # a count moves a little from last month; a rate stays its numerator over its denominator
            drift = [f if pd.notna(f["numerator"]) else dict(f, value=float(round(f["value"] * (1 + rng.normal(0, .02)))))
                     for f in figures]
            if roll < 0.45:
                send(form, code, period, 1, _at(day + dt.timedelta(days=int(rng.integers(0, 2))), 11), drift)
            elif roll < 0.52:
                bad = [dict(f, value=f["value"] * 10) if n == 0 else f for n, f in enumerate(drift)]
                send(form, code, period, 1, _at(day, 9), bad)
                review(form, code, period, 2, _at(day + dt.timedelta(days=1), 14), "return",
                       REASONS[2] if form.level == "county" else REASONS[0])
    ev = fields.typed(pd.DataFrame(events, columns=list(cycle.EVENTS)), cycle.EVENTS)
    rt = fields.typed(pd.DataFrame(returns, columns=list(cycle.RETURNS)), cycle.RETURNS)
    return {"forms": forms_frame(), "submissions": ev, "returns": rt}
