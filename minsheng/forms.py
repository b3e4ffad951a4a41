"""报表: the forms regions fill each period, and the returns they owe (the reporting cycle's catalogue).

A 报表 is a named set of indicators that every region at one level sends up each period, by a
deadline: 民政月报 (乡镇, monthly, 次月5日) holds 城市低保对象, 农村低保对象 and 特困供养人员. It is a
table of the store (`forms`, store.SIDE), one row per form and indicator:

    form_id, form_name, report_level, frequency, deadline_day, valid_from, valid_to, department,
    issued_by, indicator_id, position

`deadline_day` is days after the period's last day: 5 is 次月5日 for a monthly form, 次季首月5日 for a
quarterly one, 次年1月5日 for a yearly one. A form is expected from every region at its level that is
valid on the period's last day (lineage.py, the rule the roll-ups use), in each period from
`valid_from` to `valid_to` (empty: open). `issued_by` is the region that sends the form down (下发单位,
a city's 民政局 for its 民政月报): only the regions under it owe it; empty, every region at the level does —
one data directory may hold two cities, and a form of 株洲 is not 岳阳's. Those are the expected returns
(应报); `cycle.py` says which have come in, and `progress.py` counts them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from minsheng import fields, lineage, store, vocab

COLUMNS = {"form_id": "string", "form_name": "string", "report_level": "string", "frequency": "string",
           "deadline_day": "int64", "valid_from": "date32", "valid_to": "date32", "department": "string",
           "issued_by": "string", "indicator_id": "string", "position": "int64"}
_ID = re.compile(r"[a-z][a-z0-9_]{1,39}")
MAX_DEADLINE_DAY = 60


class FormError(ValueError):
    """A form definition that cannot be used; the message is for the user (Chinese)."""


@dataclass(frozen=True)
class Form:
    id: str
    name: str
    level: str
    frequency: str
    deadline_day: int
    valid_from: dt.date | None
    valid_to: dt.date | None
    department: str
    indicators: tuple[str, ...]
    issued_by: str | None = None  # the region whose regions at `level` owe it; None: every one

    def owed_by(self, tree, code: str) -> bool:
        """Whether region `code` of `tree` (regions.Tree) is one of those this form asks: at its level,
        under the region that issued it. Validity on a period is the caller's (lineage.valid_on)."""
        return tree.levels.get(code) == self.level and (self.issued_by is None or self.issued_by in tree.path(code))

    @property
    def deadline_text(self) -> str:
        """The deadline as an office says it: 次月5日, 次季首月10日, 次年1月20日."""
        d = self.deadline_day
        if d > 28:
            return f"期末后{d}日"
        return {"month": f"次月{d}日", "quarter": f"次季首月{d}日"}.get(self.frequency, f"次年1月{d}日")

    def deadline(self, period: dt.date) -> dt.date:
        """The last day a return for `period` counts as on time."""
        return lineage.period_end(period, self.frequency) + dt.timedelta(days=self.deadline_day)

    def active(self, period: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= period) and \
            (self.valid_to is None or period <= self.valid_to)

    def periods(self, first: dt.date, last: dt.date) -> list[dt.date]:
        """The form's periods whose first day lies in [first, last], oldest first."""
        step = {"month": 1, "quarter": 3}.get(self.frequency, 12)
        start = _period_start(first, self.frequency)
        out = []
        while start <= last:
            if start >= first and self.active(start):
                out.append(start)
            n = start.year * 12 + start.month - 1 + step
            start = dt.date(n // 12, n % 12 + 1, 1)
        return out

    def period_of(self, text_or_date) -> dt.date:
        """A period of this form from a date or text (2026-10, 2026年10月, 2026年第3季度, 2026); FormError if not."""
        from minsheng.ingest import cells

        if isinstance(text_or_date, dt.date):
            day = text_or_date
        else:
            day, msg = cells.parse_period(str(text_or_date), self.frequency)
            if msg:
                raise FormError(f"报表“{self.name}”的时期：{msg}")
        if day != _period_start(day, self.frequency):
            raise FormError(f"{day.isoformat()} 不是报表“{self.name}”（{vocab.FREQUENCIES.label(self.frequency)}）"
                            "的一个时期的第一天")
        return day


def _period_start(day: dt.date, frequency: str) -> dt.date:
    if frequency == "month":
        return dt.date(day.year, day.month, 1)
    if frequency == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return dt.date(day.year, 1, 1)


def period_label(period: dt.date, frequency: str) -> str:
    if frequency == "month":
        return f"{period.year}年{period.month}月"
    if frequency == "quarter":
        return f"{period.year}年第{(period.month - 1) // 3 + 1}季度"
    return f"{period.year}年"


def empty() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: [] for c in COLUMNS}))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    return fields.typed(df, COLUMNS)


def read(directory: Path, folder: Path | None = None) -> pd.DataFrame:
    """The forms table of the current version (empty where there is none yet)."""
    path = store.table_path(folder or store.resolve(directory), "forms")
    return _typed(pd.read_parquet(path)) if path.exists() else empty()


def catalogue(df: pd.DataFrame) -> dict[str, Form]:
    """form id → Form, indicators in their order."""
    out = {}
    for fid, rows in df.sort_values(["form_id", "position"]).groupby("form_id", sort=True):
        r = rows.iloc[0]
        out[fid] = Form(id=fid, name=r["form_name"], level=r["report_level"], frequency=r["frequency"],
                        deadline_day=int(r["deadline_day"]), valid_from=_day(r["valid_from"]),
                        valid_to=_day(r["valid_to"]), department=r["department"] or "",
                        indicators=tuple(rows["indicator_id"]), issued_by=r.get("issued_by") or None)
    return out


def _day(v) -> dt.date | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).date()


def load(directory: Path) -> dict[str, Form]:
    return catalogue(read(directory))


def get(directory: Path, form_id: str) -> Form:
    found = load(directory)
    if form_id not in found:
        known = "、".join(f"{f.id}（{f.name}）" for f in found.values()) or "尚未定义任何报表"
        raise FormError(f"没有编码为“{form_id}”的报表；已有：{known}")
    return found[form_id]


def parse_deadline(text) -> int:
    """次月5日 / 次季首月10日 / 次年1月20日 / 期末后45日 / 5 → days after the period's last day."""
    s = str(text).strip().replace(" ", "")
    m = re.fullmatch(r"(?:次月|次季首月|次季度首月|次年1月|次年一月|期末后)?(\d{1,2})日?", s)
    if not m:
        raise FormError(f"截止时间“{text}”看不懂：写 次月5日（月报）、次季首月10日（季报）、次年1月20日（年报）"
                        "或 期末后多少日")
    day = int(m.group(1))
    if not 1 <= day <= MAX_DEADLINE_DAY:
        raise FormError(f"截止时间“{text}”：须为期末后 1–{MAX_DEADLINE_DAY} 日")
    return day


def expected(directory: Path, form: Form, periods: list[dt.date], regions: pd.DataFrame | None = None,
             within: str | None = None) -> pd.DataFrame:
    """The returns owed: one row (region_code, period, deadline) per region the form asks (at its level,
    under its issuer) valid on the period's last day, under `within` (a region code; None: everywhere)."""
    from minsheng.ingest import pipeline
    from minsheng.regions import Tree

    regions = pipeline.table(directory, "regions") if regions is None else regions
    at_level = regions[regions["level"] == form.level]
    if within is not None or form.issued_by is not None:
        tree = Tree(regions)
        at_level = at_level[[form.owed_by(tree, c) and (within is None or within in tree.path(c))
                             for c in at_level["code"]]]
    rows = []
    for period in periods:
        end = lineage.period_end(period, form.frequency)
        due = form.deadline(period)
        for code, vf, vt in zip(at_level["code"], at_level.get("valid_from", [None] * len(at_level)),
                                at_level.get("valid_to", [None] * len(at_level))):
            if lineage.valid_on(vf, vt, end):
                rows.append((code, period, due))
    return pd.DataFrame(rows, columns=["region_code", "period", "deadline"])
