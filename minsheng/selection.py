"""What one page view asks for, described once: the bound parameters, the words and the audit record.

A page builds one `Selection` from the frame's (region, year, language, data version, the user's
area) and its own widgets (indicators, period, level, view …). Everything that says what was
queried is derived from it — `params()` for `repo`, `subtitle()` for the chart, the image's
provenance and the slides, `describe()` for the 数据 page and the XLSX 说明 sheet, `audit()` for
the audit log — so a new filter is added in one place and the words cannot drift from the query.
It is frozen and hashable; the cache edge (`minsheng/ui/data.py`) keys on its `key()`, the part that
decides what is read, so a language switch or presentation mode re-reads nothing.

Streamlit-free: the CLI export builds one too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from minsheng import fmt, i18n, vocab


@dataclass(frozen=True)
class Selection:
    # the frame: the sidebar's region and year, and the facts of this run
    region: str
    region_name: str
    region_level: str
    year: int
    data_date: str | None = None
    demo: bool = False
    present: bool = False
    lang: str = "zh"
    area: str | None = None           # the user's area: every query is confined to it (None: no limit)
    version: str = ""                 # the data version the answers come from (part of the cache key)
    page: str = ""                    # the page's title in Chinese, as the audit log and the deck name it
    # the page's own choices
    indicators: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()     # the regions whose values are read (empty: the region itself)
    level: str | None = None          # 地图, 数据: the subdivisions at this level (None: the region itself)
    within: tuple[str, ...] = ()      # 数据: only these regions of that level (empty: all of them)
    start: dt.date | None = None      # the first period shown (its first day)
    end: dt.date | None = None        # the last period shown (its first day)
    history: int = 0                  # years read before `start` for 同比, not shown
    grain: str | None = None          # year | quarter | month
    view: str | None = None           # value | yoy | mom
    children: bool = False            # 趋势: the region's subdivisions beside it
    as_of: int | None = None          # 目标: the month of `year` the report is made up to

    def with_(self, **changes) -> Selection:
        """The same selection with some choices changed (a page's filters, one chart's indicator)."""
        return dataclasses.replace(self, **{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()})

    def t(self, text: str, **values) -> str:
        return i18n.t(text, self.lang, **values)

    # --- the query -----------------------------------------------------------------------------

    def key(self) -> tuple:
        """What decides the answer — data version, area, region and year, indicators, regions, level,
        period — and nothing that only words it (language, page, presentation mode, the view)."""
        return (self.version, self.area, self.region, self.year, self.indicators, self.regions, self.level,
                self.within, self.start, self.end, self.history)

    def params(self, regions=None) -> dict:
        """The bound parameters of `repo.series` (and `series_count`, `series_batches`); `regions`
        replaces the selection's own when the caller has resolved a level into regions."""
        start = self.start or dt.date(1900, 1, 1)
        return dict(indicator_ids=list(self.indicators),
                    region_codes=list(regions if regions is not None else (self.regions or (self.region,))),
                    date_from=start.replace(year=start.year - self.history), date_to=self.end or dt.date(2999, 12, 1),
                    area=self.area)

    # --- the words -----------------------------------------------------------------------------

    def place(self) -> str:
        """Where: 株洲市, 株洲市及下级区划, 株洲市 · 按区县."""
        text = self.region_name + (self.t("及下级区划") if self.children else "")
        if self.level:
            text += " · " + self.t("按{level}", level=self.t(vocab.LEVELS[self.level].group))
        return text

    def when(self) -> str:
        """When: 2018–2026, 2023年, 2026年10月, 2023年 · 截至7月."""
        if self.as_of:
            return self.t("{year}年 · 截至{month}月", year=self.year, month=self.as_of)
        if self.start and self.end and self.start == self.end:
            return fmt.period_label(self.start, self.grain or "month", self.lang)
        if self.start and self.end and self.start.year != self.end.year:
            return f"{self.start.year}–{self.end.year}"
        return self.t("{year}年", year=self.start.year if self.start else self.year)

    def dated(self) -> str:
        return self.t("数据截至 {date}", date=fmt.date_label(self.data_date, self.lang))

    def subtitle(self, *extra: str, dated: bool = True) -> str:
        """Place · period · what else the chart needs to say · the data date (left out where the
        image's footer carries it)."""
        parts = [self.place(), self.when(), *(e for e in extra if e)]
        return " · ".join(parts + ([self.dated()] if dated else []))

    def describe(self, indicators, names: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
        """The filter as (label, value) pairs, in Chinese (the 数据 page, the XLSX 说明 sheet):
        `indicators` is the catalogue (id, name_zh, unit), `names` region names for `within`."""
        cat = indicators.set_index("id")
        out = [("指标", "；".join(f"{cat.loc[i, 'name_zh']}（{i}，{cat.loc[i, 'unit']}）" for i in self.indicators)),
               ("区域", f"{self.region_name}（{self.region}）"),
               ("级别", "本级" if self.level is None else vocab.LEVELS.label(self.level)),
               ("时期", f"{self.start or dt.date(1900, 1, 1):%Y-%m} 至 {self.end or dt.date(2999, 12, 1):%Y-%m}")]
        if self.within:
            out.append(("限定区划", "、".join((names or {}).get(c, c) for c in self.within)))
        return out

    def deck_title(self) -> str:
        return f"{self.t(self.page)} · {self.region_name}"

    def deck_subtitle(self) -> str:
        return f"{self.region_name} · {self.t('{year}年', year=self.year)}"

    # --- the record ----------------------------------------------------------------------------

    def audit(self, **extra) -> dict:
        """The audit log's detail for a file made from this selection (only what was chosen)."""
        out = dict(page=self.page, region=self.region, year=self.year) if self.page else dict(region=self.region)
        if self.indicators:  # a province's 300 at once are named by their count, not listed
            out["indicators"] = list(self.indicators) if len(self.indicators) <= 20 else f"{len(self.indicators)} 项"
        if self.level:
            out["level"] = self.level
        if self.within:
            out["regions"] = list(self.within)
        if self.start and self.end:
            out["period"] = f"{self.start:%Y-%m}–{self.end:%Y-%m}"
        if self.as_of:
            out["month"] = self.as_of
        if self.view:
            out["view"] = self.view
        return out | extra
