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

from minsheng import fmt, i18n, safe_cells, vocab


# a deck's title by page (the 目标 page's, which names its month, is written in deck_title)
PENDING = "含未审核数据"  # what every output read with 未审核 figures says of itself
NAME_ROOM = 40  # characters of a file name a place may take, so its period and 演示数据 fit beside it
FILE_NAME_LIMIT = safe_cells.FILE_NAME_LIMIT
DECK_TITLES = {"总览": "{region}民生指标概览（{period}）", "趋势": "{region}民生指标趋势（{period}）",
               "地图": "{region}{what}分布（{period}）", "数据": "{region}民生指标数据摘要（{period}）"}


@dataclass(frozen=True)
class Selection:
    # the frame: the sidebar's region and year, and the facts of this run
    region: str
    region_name: str
    region_level: str
    year: int
    data_date: str | None = None
    demo: bool = False
    pending: bool = False             # 未审核 figures read too (minsheng/pending.py): every output says so
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
        """When, as a meeting says it: 2018—2023年, 2023年, 2023年10月, 截至2023年7月."""
        if self.as_of:
            return self.t("截至{year}年{month}月", year=self.year, month=self.as_of,
                          mon=i18n.MONTHS_EN[self.as_of - 1])
        if self.start and self.end and self.start == self.end:
            return fmt.period_label(self.start, self.grain or "month", self.lang)
        if self.start and self.end and self.start.year != self.end.year:
            return self.t("{y0}—{y1}年", y0=self.start.year, y1=self.end.year)
        return self.t("{year}年", year=self.start.year if self.start else self.year)

    def dated(self) -> str:
        return self.t("数据截至 {date}", date=fmt.date_label(self.data_date, self.lang))

    def subtitle(self, *extra: str, dated: bool = True) -> str:
        """Place · the period the chart shows · what else the chart needs to say · the data date (left
        out where the image's footer carries it). The data date is named as such, after the period: a
        store dated 2026-10-31 showing July 2023 says both, and which is which."""
        parts = [self.place(), self.when(), *(e for e in extra if e), *([self.t(PENDING)] if self.pending else [])]
        date = self.t("数据日期 {date}", date=fmt.date_label(self.data_date, self.lang))
        return " · ".join(parts + ([date] if dated else []))

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
        if self.pending:
            out.append(("数据范围", "含未审核数据：已上报、尚未审核通过的报表数据已计入，其来源标注“（未审核）”"))
        return out

    def deck_title(self, what: str = "") -> str:
        """The deck's name as a meeting gives it: 株洲市民生指标概览（2023年）,
        株洲市2023年重点民生实事推进情况（截至7月）, 株洲市民生指标趋势（2018—2023年）; `what`: the
        map's indicator."""
        if self.as_of:
            return self.t("{region}{year}年重点民生实事推进情况（截至{month}月）", region=self.region_name,
                          year=self.year, month=self.as_of, mon=i18n.MONTHS_EN[self.as_of - 1])
        pattern = DECK_TITLES.get(self.page, "{region}{page}（{period}）")
        return self.t(pattern, region=self.region_name, period=self.when(), what=what, page=self.t(self.page))

    def deck_subtitle(self) -> str:
        """The title slide's second line: the place and the period (and 含未审核数据 where it applies)."""
        return " · ".join([self.place(), self.when(), *([self.t(PENDING)] if self.pending else [])])

    def origin(self, source: str, period: str | None = None) -> str:
        """What every slide says about itself in its footer: region, period (`period` where the slide
        shows less than the selection), source, data date and, on demo data, 演示数据 — so a slide
        copied into another deck still says where it is from."""
        text = self.t("区域：{region}（{code}） · 时期：{period} · 来源：{source} · 数据日期：{date}",
                      region=self.region_name, code=self.region, period=period or self.when(), source=source or "—",
                      date=fmt.date_label(self.data_date, self.lang))
        return (text + (" · " + self.t(PENDING) if self.pending else "")
                + (self.t(" · 演示数据，非官方统计") if self.demo else ""))

    def file_stem(self, what: str = "") -> str:
        """A download's file name without suffix: place_period_what[_演示数据] (株洲市_2023年_总览,
        株洲市_截至2023年7月_目标), so files for several counties and years do not collide and a folder
        of them shows which are demo data. Safe for file systems (safe_cells.file_name)."""
        def clean(text: str) -> str:
            return safe_cells.file_name(text, "")

        # the name is cut at 80 characters: a long place or indicator name gives way, the period and
        # 演示数据 stay (cut as a whole, a long name pushed them out and July's file replaced August's)
        place = clean(self.with_(children=False).place().replace(" · ", "_"))[:NAME_ROOM]
        when = clean(self.when().replace("—", "-").replace(" · ", "_"))
        tag = "_".join(clean(self.t(t)) for t, on in ((PENDING, self.pending), ("演示数据", self.demo)) if on)
        room = FILE_NAME_LIMIT - sum(len(p) + 1 for p in (place, when, tag) if p) - 1
        what = clean(what)[:max(room, 0)].rstrip("._")
        return safe_cells.file_name("_".join(p for p in (place, when, what, tag) if p))

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
        if self.pending:
            out["pending"] = True
        if self.view:
            out["view"] = self.view
        return out | extra
