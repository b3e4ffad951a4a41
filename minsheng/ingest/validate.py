"""Turn a sheet of cell texts into rows of the data contract, finding every problem on the way.

Each check names the file, sheet, row and column the clerk has to fix, quotes what was written
there, and says what was expected. Which columns a kind of file has, which it must have and how
their cells read is the contract (`contract.py`, `cells.py`); the row checks and their messages
are here, one per kind, driven by one loop. Nothing here writes anything.
"""

from __future__ import annotations

import datetime as dt
import difflib
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from minsheng import fields, lineage, observations, vocab
from minsheng.ingest import cells, contract, official
from minsheng.ingest.catalog import Catalog
from minsheng.ingest.problems import Problem, error, warning
from minsheng.ingest.readers import Sheet


@dataclass
class Parsed:
    kind: str
    rows: pd.DataFrame                 # rows in the data contract, plus _sheet and _row for the preview
    problems: list[Problem]


def _unknown_indicator(cat: Catalog, text: str) -> str:
    close = difflib.get_close_matches(text, list(cat.ind), n=3, cutoff=0.6)
    by_name = {r.name_zh: i for i, r in cat.ind.items()}.get(text)
    if by_name:
        return f"未知指标编码“{cells.shown(text)}”。“{cells.shown(text)}”是指标名称，请填指标编码 {by_name}"
    return f"未知指标编码“{cells.shown(text)}”" + (f"。是否为：{'、'.join(close)}？" if close else "")


def parse_sheet(sheet: Sheet, kind: str, cat: Catalog, *, indicator: str | None = None, within: str | None = None,
                factor: float = 3.0) -> Parsed:
    problems = list(sheet.problems)
    if problems and any(p.level == "错误" and p.row is None for p in problems):
        return Parsed(kind, pd.DataFrame(), problems)
    if not sheet.header or not any(sheet.header):
        return Parsed(kind, pd.DataFrame(), problems + [error(sheet.file, "缺少表头行", sheet=sheet.name, row=1)])
    if not sheet.rows:
        return Parsed(kind, pd.DataFrame(), problems + [error(sheet.file, "只有表头，没有数据行", sheet=sheet.name)])
    dup = [h for h in set(sheet.header) if h and sheet.header.count(h) > 1]
    for h in dup:
        problems.append(error(sheet.file, f"列名“{h}”重复出现", sheet=sheet.name, row=1, column=h))
    sheet, shaped = official.split_codes(sheet, kind)  # 430202 | 001000 read as one code
    problems += shaped
    if any(p.level == "错误" for p in shaped):
        return Parsed(kind, pd.DataFrame(), problems)
    check = _Check(sheet, kind, cat, indicator, within, factor)
    return Parsed(kind, check.run(), problems + check.problems)


# --- one loop for every kind: the contract's columns, then each row, then duplicate keys -------------

class _Row:
    """One row of a sheet, as the checks read it. In a wide table, one period cell of a row: the
    period (its header) and the value (the cell) come as two more cells at the end."""
    __slots__ = ("no", "cells", "cols", "header", "wide", "errors")

    def __init__(self, no: int, cells: list, cols: dict, header: list, wide: bool, errors: int):
        self.no, self.cells, self.cols, self.header, self.wide, self.errors = no, cells, cols, header, wide, errors

    def get(self, c: str) -> str | None:
        i = self.cols.get(c)
        return self.cells[i] if i is not None and i < len(self.cells) else None

    def col(self, c: str) -> str | None:
        """The header the clerk wrote for column c (None: the file has no such column)."""
        i = self.cols.get(c)
        return None if i is None else self.header[i]


class _Check:
    """One sheet under check: where its columns are, the problems found, each distinct cell text
    parsed once (large files repeat the same codes, periods and numbers on many rows)."""

    def __init__(self, sheet: Sheet, kind: str, cat: Catalog, indicator, within, factor):
        self.sheet, self.file, self.kind, self.cat = sheet, sheet.file, contract.KINDS[kind], cat
        self.indicator, self.within, self.factor = indicator, within, factor
        self.cols = contract.map_headers(sheet.header, kind)
        self.problems: list[Problem] = []
        self.errors = 0
        self._memo: dict = {}

    def error(self, row: _Row, message: str, *columns: str) -> None:
        """An error at the row, in the first of `columns` the file has. None, so a check can `return` it."""
        self.errors += 1
        column = next((h for h in map(row.col, columns) if h), None)
        self.problems.append(error(self.file, message, column=column, sheet=self.sheet.name, row=row.no))

    def warn(self, row: _Row, message: str, column: str) -> None:
        self.problems.append(warning(self.file, message, column=row.col(column), sheet=self.sheet.name, row=row.no))

    def clean(self, row: _Row) -> bool:
        return self.errors == row.errors

    def parse(self, c: str, text, *args):
        """The contract's parser for column c on `text`: (value, None) or (None, message)."""
        key = (c, text, args)
        got = self._memo.get(key)
        if got is None:
            got = self._memo[key] = self.kind[c].read(text, *args)
        return got

    def region(self, row: _Row) -> tuple[str | None, str | None]:
        key = ("region", row.get("region_code"), row.get("region_name"))
        got = self._memo.get(key)
        if got is None:
            got = self._memo[key] = self.cat.resolve_region(key[1], key[2], self.within)
        return got

    def run(self) -> pd.DataFrame:
        periods = self.kind.periods(self.sheet.header, self.cols)
        self.problems += self._missing(bool(periods))
        if self.problems:
            return pd.DataFrame()
        rules, key_of = RULES[self.kind.name], operator.itemgetter(*self.kind.keys)
        absent = " ".join(self.kind.absent(self.cols))  # the preview leaves these fields of existing rows alone
        out, seen = [], {}
        for row in self._rows(periods):
            record = rules.row(self, row)
            if record is None:
                continue
            key = key_of(record)
            if key in seen:
                first = key[0] if isinstance(key, tuple) else key
                self.error(row, rules.duplicate.format(key=first, row=seen[key]), *rules.duplicate_at)
                continue
            seen[key] = row.no
            record["_sheet"], record["_row"], record["_absent"] = self.sheet.name, row.no, absent
            out.append(record)
        df = pd.DataFrame(out)
        if rules.after and not df.empty:
            self.problems += rules.after(self, df)
        return df

    def _missing(self, wide: bool) -> list[Problem]:
        """The required columns the file lacks; only the first if it decides the file is not this kind."""
        kind, at = self.kind, dict(sheet=self.sheet.name, row=1)
        need = kind.missing(self.cols, wide=wide, chosen=self.indicator is not None)

        def named(c: contract.Column) -> Problem:
            if len(c.instead) == 1:
                return error(self.file, f"缺少“{c.header}”或“{kind[c.instead[0]].header}”列", **at)
            return error(self.file, f"缺少“{c.header}”列（可写作：{'、'.join(c.headers[:2])} 或 {c.name}）。"
                         f"本文件的列：{'、'.join(h for h in self.sheet.header if h)}", **at)
        decisive = [c for c in need if c.decisive]
        if decisive:
            return [named(decisive[0])]
        if wide and need:
            return [error(self.file, "这是一行一个区划、一列一个时期的宽表：请指定导入哪个指标"
                          f"（命令行 --indicator，或页面上选择），或加一列“{need[0].header}”", **at)]
        return [named(c) for c in need]

    def _rows(self, periods: list[tuple[int, str]]):
        cols, header, n = self.cols, self.sheet.header, len(self.sheet.header)
        if periods:
            cols = {**cols, **{c: n + i for i, c in enumerate(self.kind.wide)}}
        for k, r in enumerate(self.sheet.rows):
            if all(c is None for c in r):
                continue
            no = self.sheet.first_row + k
            if not periods:
                yield _Row(no, r, cols, header, False, self.errors)
            for i, h in periods:
                yield _Row(no, [*r, h, r[i] if i < len(r) else None], cols, [*header, h, h], True, self.errors)


def _empty(check: _Check, row: _Row, c: str, more: str = "") -> None:
    """The one wording for a cell that must not be empty: its header, quoted, 为空."""
    return check.error(row, f"“{row.col(c) or check.kind[c].header}”为空{more}", c)


def _text(check: _Check, row: _Row, c: str, required: bool = True) -> str | None:
    """A cell that must not be empty (unless not `required`), held to its column's text rule if it has one."""
    v = row.get(c)
    if v is None:
        return _empty(check, row, c) if required else None
    if not check.kind[c].limit:
        return v
    value, msg = check.parse(c, v)
    return check.error(row, msg, c) if msg else value


def _term(check: _Check, row: _Row, c: str, default=None, *, named: bool = True, codes: bool = True):
    """A cell of a closed vocabulary: its code (the default if empty), or None after an error that
    lists the offered words, after the column's name and followed by their codes where asked."""
    text = row.get(c)
    if text is None and default is not None:
        return default
    column = check.kind[c]
    words = f"（{'/'.join(str(t.code) for t in column.choices.terms if t.offered)}）" if codes else ""
    if text is None:
        return _empty(check, row, c, f"，应为 {column.choices.terms.spelled()}{words}")
    code, msg = check.parse(c, text)
    if msg:
        check.error(row, f"{column.header if named else ''}{msg}{words}", c)
    return code


def _parsed(check: _Check, row: _Row, *columns: str) -> list | None:
    """The cells parsed by the contract; None after naming each one that does not parse."""
    out, ok = [], True
    for c in columns:
        value, msg = check.parse(c, row.get(c))
        if msg:
            check.error(row, msg, c)
            ok = False
        out.append(value)
    return out if ok else None


# an indicator as the template's drop-down offers it: 城市低保对象（mz_dibao_urban_persons）
PICKED = re.compile(r"(?P<name>.+?)\s*[（(](?P<code>[A-Za-z0-9_.\-]+)[）)]")


def _indicator(check: _Check, row: _Row, ind_id: str):
    picked = PICKED.fullmatch(ind_id.strip())
    if picked and picked["code"] in check.cat.ind and ind_id not in check.cat.ind:
        ind = check.cat.ind[picked["code"]]
        # the template writes a name that starts like a formula after an apostrophe (safe_cells.text)
        if ind.name_zh.strip() in (picked["name"].strip(), picked["name"].strip().removeprefix("'")):
            return ind
        return check.error(row, f"指标“{cells.shown(ind_id)}”的名称与编码不符：编码 {picked['code']} 是"
                                f"“{cells.shown(ind.name_zh)}”", "indicator_id")
    ind = check.cat.ind.get(ind_id)
    return ind if ind is not None else check.error(row, _unknown_indicator(check.cat, ind_id), "indicator_id")


def _region(check: _Check, row: _Row) -> str | None:
    if row.get("region_name") is not None and _text(check, row, "region_name") is None:
        return None
    code, msg = check.region(row)
    return check.error(row, msg, "region_code", "region_name") if msg else code


def _grade(level: str) -> str:
    return vocab.LEVELS[level].grade if level in vocab.LEVELS else level


# --- observations: each row stops at its first problem -------------------------------------------------

def _observation(check: _Check, row: _Row) -> dict | None:
    # each step is None after its problem, and the row stops there
    ind_id = row.get("indicator_id") or check.indicator
    ind = _indicator(check, row, ind_id) if ind_id else _empty(check, row, "indicator_id")
    code = ind and _reporting_region(check, row, ind)
    period = code and _period(check, row, ind)
    period = period and _in_validity(check, row, code, period, ind)
    if period is None or row.wide and row.get("value") is None:
        return None  # (a blank cell in a wide table: that period was not reported, a gap and not a zero)
    values = _values(check, row, ind)
    status = values and _term(check, row, "status", "final")
    source = status and _text(check, row, "source", required=False)
    if not status or not check.clean(row):
        return None
    value, num, den = values
    return dict(indicator_id=ind.id, region_code=code, period=period, value=float(value), numerator=num,
                denominator=den, status=status, source=source or check.file)


def _reported_at(ind, level: str) -> bool:
    """Whether figures of `ind` are sent by regions of `level`: its reporting level (a standard may also be
    set above it; everything else above is the roll-ups' sum)."""
    report, order = ind.report_level, vocab.LEVELS.codes
    return level == report or (ind.kind == "standard" and order.index(level) < order.index(report))


def _reporting_region(check: _Check, row: _Row, ind) -> str | None:
    """The row's region, at the indicator's reporting level (a standard may also be set above it)."""
    code = _region(check, row)
    if code is None:
        return None
    level, report = check.cat.by_code[code].level, ind.report_level
    if not _reported_at(ind, level):
        return check.error(row, f"{check.cat.by_code[code].name}是{_grade(level)}，而指标“{ind.name_zh}”按"
                           f"{_grade(report)}报送（上级数值由系统汇总，不需填报）", "region_code", "region_name")
    return code


def _in_validity(check: _Check, row: _Row, code: str, period: dt.date, ind) -> dt.date | None:
    """The period, if the region's code is valid on its last day (lineage.py); else an error that gives
    the code's validity and, for a retired code, the region that took over."""
    r, last = check.cat.by_code[code], lineage.period_end(period, ind.frequency)
    start, end = getattr(r, "valid_from", None), getattr(r, "valid_to", None)
    if lineage.valid_on(start, end, last):
        return period
    when = f"时期“{cells.shown(row.get('period'))}”"
    if not pd.isna(start) and last < pd.Timestamp(start).date():
        said = f"区划代码 {code}（{r.name}）{pd.Timestamp(start).date().isoformat()} 起启用，{when}早于其有效期"
    else:
        said = f"区划代码 {code}（{r.name}）已于 {pd.Timestamp(end).date().isoformat()} 停用，{when}不在其有效期内"
    said += f"（{lineage.window(start, end)}）"
    heir = _heir_on(check.cat.by_code, r, last)
    if heir is not None:
        said += f"，承继区划为 {heir.code} {heir.name}：该时期的数据请报在承继区划下"
    return check.error(row, said, "region_code", "region_name")


def _heir_on(by_code: dict, r, day: dt.date):
    """The region that carries on `r` on `day`: its successor, or theirs if it changed again (the last
    one reached when none is valid then); None for a region without a successor."""
    heir, seen = None, {r.code}
    while isinstance(nxt := getattr(r, "successor_code", None), str) and nxt in by_code and nxt not in seen:
        heir = r = by_code[nxt]
        seen.add(nxt)
        if lineage.valid_on(r.valid_from, r.valid_to, day):
            break
    return heir


def _period(check: _Check, row: _Row, ind) -> dt.date | None:
    text = row.get("period")
    if text is None:
        return _empty(check, row, "period")
    period, msg = check.parse("period", text, ind.frequency)
    if not msg and period > dt.date.today():  # a period starts on its first day: this month's is not later
        msg = f"时期“{cells.shown(text)}”晚于本月：尚未到来的时期不能有实际数（是否把年份写错了？）"
    return check.error(row, msg, "period") if msg else period


def _values(check: _Check, row: _Row, ind) -> tuple | None:
    """(value, numerator, denominator); for a rate given only those two, the value computed from them."""
    value = _parsed(check, row, "value")
    ratio = value and _parsed(check, row, "numerator", "denominator")  # the value's problem first
    if ratio is None:
        return None
    (value,), (num, den), text = value, ratio, row.get("value")
    if any(_too_large(check, row, c, v) for c, v in (("numerator", num), ("denominator", den))):
        return None
    low, high = contract.BOUNDS[ind.kind]
    if ind.kind == "rate":
        value = _rate(check, row, value, num, den)
    elif value is None:
        _empty(check, row, "value", "（未报送请整行删除，不要填 0）")
    elif value < low:
        value = check.error(row, f"{'标准' if ind.kind == 'standard' else '计数/金额'}不能为负数：{text}", "value")
    elif _too_large(check, row, "value", value, high):
        value = None
    return None if value is None else (value, num, den)


def _too_large(check: _Check, row: _Row, c: str, value: float | None, high: float = contract.LARGEST) -> bool:
    """Above what any indicator plausibly reaches (a roll-up of such values would overflow to inf)."""
    if value is None or value <= high:
        return False
    check.error(row, f"“{row.col(c)}”{row.get(c)} 过大：不应超过 {high:,}（请核对单位和小数点）", c)
    return True


def _rate(check: _Check, row: _Row, value, num, den) -> float | None:
    if (num is None) != (den is None):
        return check.error(row, "分子和分母须同时填写", "numerator", "denominator")
    if den is not None:
        if den <= 0 or num < 0:
            return check.error(row, f"分母须大于 0、分子不能为负（分子 {num:g}，分母 {den:g}）", "denominator")
        if num > den:
            return check.error(row, f"分子 {num:g} 大于分母 {den:g}", "numerator")
        computed = 100 * num / den
        if value is not None and abs(value - computed) > 0.05 + 1e-9:
            return check.error(row, f"数值 {value:g}% 与 分子/分母 = {computed:.2f}% 不一致", "value")
        value = computed if value is None else value
    if value is None:
        return _empty(check, row, "value")
    low, high = contract.BOUNDS["rate"]
    if not low <= value <= high:
        return check.error(row, f"比率 {row.get('value')} 超出 0–100% 范围", "value")
    if den is None:
        check.warn(row, "比率只有数值、没有分子分母：上级区划汇总时无法计入此行", "value")
    return value


def _year_on_year(df: pd.DataFrame, cat: Catalog, file: str, factor: float) -> list[Problem]:
    """Warn where a value moved more than `factor` times against the same period a year before."""
    if factor <= 1:
        return []
    prev = df[["indicator_id", "region_code", "period", "value"]]
    old = cat.observations
    if old is None and cat.observations_file is not None and Path(cat.observations_file).exists():
        ago = prev.assign(period=[p.replace(year=p.year - 1) for p in prev["period"]])
        old = observations.existing(cat.observations_file, ago)  # just the year-ago rows of the file's keys
    if old is not None and not old.empty:
        old = old[["indicator_id", "region_code", "period", "value"]].copy()
        old["period"] = pd.to_datetime(old["period"]).dt.date
        prev = pd.concat([old, prev])
    # The same period a year before, joined column-wise (a per-row loop took ~20 s at 1M rows).
    kinds = df["indicator_id"].map({i: r.kind for i, r in cat.ind.items()})
    cur = df.loc[kinds != "rate", ["indicator_id", "region_code", "period", "value", "_sheet", "_row"]]
    if cur.empty:
        return []
    before = prev.drop_duplicates(["indicator_id", "region_code", "period"], keep="last").rename(
        columns={"period": "_prev", "value": "before"})
    cur = cur.assign(_prev=[p.replace(year=p.year - 1) for p in cur["period"]])
    m = cur.merge(before, on=["indicator_id", "region_code", "_prev"], how="left", sort=False)
    b, v = m["before"].astype("float64"), m["value"].astype("float64")
    ok = b.notna() & (b != 0) & v.notna() & (v != 0)
    flag = ok & ((v / b.where(ok) > factor) | (b / v.where(ok) > factor))
    return [warning(file, f"与上年同期相比变化超过 {factor:g} 倍（上年 {bv:g}，本次 {vv:g}），请核实", sheet=sh, row=rw)
            for bv, vv, sh, rw in zip(b[flag], v[flag], m.loc[flag, "_sheet"], m.loc[flag, "_row"])]


# --- targets, regions and the indicator catalogue: every problem of a row is named ---------------------

def _target(check: _Check, row: _Row) -> dict | None:
    ind_id = _text(check, row, "indicator_id")
    ind = ind_id and _indicator(check, row, ind_id)
    code = _region(check, row)
    year = None
    if year_text := _text(check, row, "year"):
        year, msg = check.parse("year", year_text)
        if msg:
            check.error(row, msg, "year")
    target, msg = check.parse("target", row.get("target"))
    if msg or target is None or target <= 0:
        check.error(row, msg or "目标值须为大于 0 的数字", "target")
    elif ind:
        _too_large(check, row, "target", target, contract.BOUNDS[ind.kind][1])
    dept = _text(check, row, "department")
    task = _text(check, row, "task", required=False)
    (deadline,) = _parsed(check, row, "deadline") or (None,)
    if not check.clean(row):
        return None
    return dict(indicator_id=ind.id, region_code=code, year=year, target=float(target), department=dept,
                task=task or ind.name_zh, deadline=deadline or (dt.date(year, 12, 31) if year else None))


def _region_row(check: _Check, row: _Row) -> dict | None:
    code, msg = check.parse("code", row.get("code") or "")
    if msg:
        return check.error(row, msg, "code")
    name = _text(check, row, "name")
    level = _term(check, row, "level", cells.level_of_code(code))
    held = check.cat.by_code.get(code)
    if level is not None and level != cells.level_of_code(code):
        check.error(row, f"级别“{row.get('level')}”与区划代码 {code} 不符：按统计用区划代码的结构它是"
                    f"{_grade(cells.level_of_code(code))}" + (f"（该代码已是{_grade(held.level)}区划“{held.name}”）"
                                                            if held is not None and held.level != level else ""), "level")
    elif row.get("level") is None and (said := official.level_conflict(code, name, held)):
        check.error(row, said, "code")
    # 统计用区划代码 carry their parent in their digits (a city's province only if it is a region)
    parent = official.inferred_parent(code, _known(check))
    if row.get("parent_code"):
        (parent,) = _parsed(check, row, "parent_code") or (None,)
    lon, lat = _parsed(check, row, "lon", "lat") or (None, None)
    _seat(check, row, lon, lat)
    start, end = _parsed(check, row, "valid_from", "valid_to") or (None, None)
    successor = None
    if row.get("successor_code"):
        (successor,) = _parsed(check, row, "successor_code") or (None,)
    _validity(check, row, code, start, end, successor)
    if not check.clean(row):
        return None
    return dict(code=code, name=name, level=level, parent_code=parent, lon=lon, lat=lat,
                valid_from=start, valid_to=end, successor_code=successor)


def _validity(check: _Check, row: _Row, code: str, start, end, successor) -> None:
    """A code's validity on its own row: it ends no earlier than it starts; a successor needs an end."""
    if start and end and end < start:
        check.error(row, f"停用日期 {end.isoformat()} 早于启用日期 {start.isoformat()}", "valid_to")
    if successor == code:
        check.error(row, f"承继区划代码 {code} 是该区划自己", "successor_code")
    elif successor and not end and "valid_to" not in row.cols:
        check.error(row, "填写了承继区划代码，但文件没有“停用日期”列：请写明该代码停用的日期", "successor_code")
    elif successor and not end:
        _empty(check, row, "valid_to", "：填写了承继区划代码，须写明该代码停用的日期")


def _known(check: _Check) -> set[str]:
    """The codes held and those the sheet's rows hold, gathered once per sheet (a city's province may
    come in the same file)."""
    if "_known" not in check._memo:
        i = check.cols["code"]
        check._memo["_known"] = set(check.cat.by_code) | {cells.normalise_code(r[i])[0] for r in check.sheet.rows
                                                          if i < len(r)}
    return check._memo["_known"]


def _seat(check: _Check, row: _Row, lon: float | None, lat: float | None) -> None:
    """A region's seat: longitude and latitude both or neither (when the file has both columns), inside China."""
    (w, e), (s, n) = contract.LON, contract.LAT
    lon_ok, lat_ok = lon is None or w <= lon <= e, lat is None or s <= lat <= n
    if not lon_ok and not lat_ok:
        check.error(row, f"经纬度（{lon:g}, {lat:g}）不在中国范围内；经度、纬度是否填反？", "lon")
    elif not lon_ok or not lat_ok:
        c, v, (low, high) = ("lon", lon, contract.LON) if not lon_ok else ("lat", lat, contract.LAT)
        check.error(row, f"“{row.col(c)}”{v:g} 不在中国范围内（应在 {low}–{high} 度之间）", c)
    elif "lon" in row.cols and "lat" in row.cols and (lon is None) != (lat is None):
        _empty(check, row, "lat" if lat is None else "lon", "：经度和纬度须同时填写")


def _tree(check: _Check, df: pd.DataFrame) -> list[Problem]:
    """The regions as a commit would leave them (the current ones, the file's rows over them) must stay one
    tree: each parent held and of a higher level, no cycle, one region at the top. Named at the file's rows."""
    cur, rows = check.cat.regions, df.to_dict("records")
    tree = _Merged({c: p if isinstance(p, str) else None for c, p in zip(cur["code"], cur["parent_code"])},
                   dict(zip(cur["code"], cur["level"])), dict(zip(cur["code"], cur["name"])))
    tree.top = {c for c, p in tree.parent.items() if p not in tree.level}  # at the top before this file
    for r in rows:  # a file without a 上级代码 column leaves an existing region's parent as it is
        if not (r["code"] in tree.parent and "parent_code" in r["_absent"].split()):
            tree.parent[r["code"]] = r["parent_code"]
        tree.level[r["code"]], tree.name[r["code"]] = r["level"], r["name"]
    column = check.sheet.header[check.cols["parent_code" if "parent_code" in check.cols else "code"]]
    return [error(check.file, said, sheet=r["_sheet"], row=r["_row"], column=column)
            for r in rows if (said := tree.problem(r["code"]))]


def _successions(check: _Check, df: pd.DataFrame) -> list[Problem]:
    """Each successor, as a commit would leave the regions (the file's rows over the current ones): held
    in the file or the table, valid on the day after its predecessor stops, and no chain of successors
    comes back to where it started. Named at the file's row, in its 承继区划代码 column."""
    cur = fields.with_added(check.cat.regions, "regions")
    traced = ("name", "valid_from", "valid_to", "successor_code")
    merged = {r["code"]: {f: r[f] for f in traced} for r in cur[["code", *traced]].to_dict("records")}
    for r in df.to_dict("records"):  # a file without a column leaves that field of an existing region alone
        kept = set(r["_absent"].split()) if r["code"] in merged else set()
        merged[r["code"]] = {f: merged[r["code"]][f] if f in kept else r.get(f) for f in traced}
    at = (check.sheet.header[check.cols["successor_code"]] if "successor_code" in check.cols else None)
    out = []
    for r in df.to_dict("records"):
        said = _succession(merged, r["code"])
        if said:
            out.append(error(check.file, said, sheet=r["_sheet"], row=r["_row"], column=at))
    return out


def _succession(merged: dict[str, dict], code: str) -> str | None:
    """What is wrong with one region's successor, if anything (`merged`: code → name and validity)."""
    me = merged[code]
    nxt, end = me["successor_code"], me["valid_to"]
    if not isinstance(nxt, str) or not nxt:
        return None
    if nxt not in merged:
        return f"承继区划代码 {nxt} 不在区划表或本文件中：请先导入承继区划，或在本文件中一并列出"
    heir, day = merged[nxt], pd.Timestamp(end).date() + dt.timedelta(days=1)
    if not lineage.valid_on(heir["valid_from"], heir["valid_to"], day):
        return (f"承继区划 {nxt} {heir['name']}在 {day.isoformat()}（{me['name']}停用次日）不在有效期内"
                f"（其有效期：{lineage.window(heir['valid_from'], heir['valid_to'])}）：请核对启用日期、停用日期")
    seen = [code]
    while isinstance(nxt, str) and nxt in merged:
        if nxt in seen:
            return "承继关系形成循环：" + " → ".join(f"{c} {merged[c]['name']}" for c in [*seen[seen.index(nxt):], nxt])
        seen.append(nxt)
        nxt = merged[nxt]["successor_code"]
    return None


@dataclass
class _Merged:
    """The region tree a commit would leave: parent, level and name by code."""
    parent: dict[str, str | None]
    level: dict[str, str]
    name: dict[str, str]
    top: set[str] = field(default_factory=set)  # the regions at the top before the file: they may stay there

    def said(self, code: str) -> str:
        return f"{code} {self.name[code]}"

    def problem(self, code: str) -> str | None:
        """What is wrong with one region's place in the tree, if anything."""
        up, rank = self.parent[code], vocab.LEVELS.codes.index
        if up == code:
            return f"区划 {self.said(code)}的上级是它自己"
        if up not in self.level:  # a root: only the one region at the top may be one
            if rank(self.level[code]) > min(map(rank, self.level.values())):
                return f"上级代码 {up} 不在区划表或本文件中"
            others = [c for c, p in self.parent.items() if p not in self.level and c != code]
            if code in self.top:  # re-imported where it was (the demo holds two seeds' cities): no new top
                return None
            return (f"区划表只能有一个最高级区划：已有 {'、'.join(map(self.said, others))}，"
                    f"{self.said(code)}不能再作为最高级（请核对上级代码）") if others else None
        if rank(self.level[up]) >= rank(self.level[code]):
            return (f"上级 {self.said(up)}是{_grade(self.level[up])}，不高于{self.name[code]}"
                    f"（{_grade(self.level[code])}）：上级须是更高一级的区划")
        seen = [code]
        while (up := self.parent.get(seen[-1])) in self.level:
            if up in seen:
                return "上级关系形成循环：" + " → ".join(map(self.said, [*seen[seen.index(up):], up]))
            seen.append(up)
        return None


def _indicator_row(check: _Check, row: _Row) -> dict | None:
    iid = _text(check, row, "id")
    if iid and not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", iid):
        check.error(row, f"指标编码“{iid}”只能用小写字母、数字和下划线，以字母开头，共 2–64 个字符", "id")
    name = _text(check, row, "name_zh")
    unit = _text(check, row, "unit")
    name_en, domain, description, source = (_text(check, row, c, required=False)
                                            for c in ("name_en", "domain", "description", "source"))
    kind = _term(check, row, "kind")
    freq = _term(check, row, "frequency", codes=False)
    cumulative = _term(check, row, "cumulative", False, named=False, codes=False)
    hib = _term(check, row, "higher_is_better", True, named=False, codes=False)
    level = _term(check, row, "report_level", "county", codes=False)
    decimals = _parsed(check, row, "decimals")
    if not check.clean(row):
        return None
    return dict(id=iid, name_zh=name, name_en=name_en or "", unit=unit, domain=domain or "其他",
                kind=kind, frequency=freq, cumulative=cumulative, report_level=level, higher_is_better=hib,
                description=description or "", source=source or check.file, decimals=decimals[0])


def _form_row(check: _Check, row: _Row) -> dict | None:
    fid = _text(check, row, "form_id")
    if fid and not re.fullmatch(r"[a-z][a-z0-9_]{1,39}", fid):
        check.error(row, f"报表编码“{cells.shown(fid)}”只能用小写字母、数字和下划线，以字母开头，共 2–40 个字符", "form_id")
    name = _text(check, row, "form_name")
    level = _term(check, row, "report_level", codes=False)
    freq = _term(check, row, "frequency", codes=False)
    deadline = (_parsed(check, row, "deadline_day") or [None])[0] if row.get("deadline_day") is not None else \
        _empty(check, row, "deadline_day")
    start, end = _parsed(check, row, "valid_from", "valid_to") or (None, None)
    if start and end and end < start:
        check.error(row, f"停用日期 {end} 早于启用日期 {start}", "valid_to")
    dept = _text(check, row, "department", required=False)
    issuer = _issuer(check, row, level)
    iid = _text(check, row, "indicator_id")
    ind = iid and _indicator(check, row, iid)
    if ind and freq and ind.frequency != freq:
        check.error(row, f"指标“{cells.shown(ind.name_zh)}”是{vocab.FREQUENCIES.label(ind.frequency)}指标，"
                         f"不能放进{vocab.FREQUENCIES.label(freq)}报表", "indicator_id")
    elif ind and level and _reported_at(ind, level) is False:  # its returns would all be refused (_observation)
        check.error(row, f"指标“{cells.shown(ind.name_zh)}”按{vocab.LEVELS.label(ind.report_level)}报送，"
                         f"不能放进由{vocab.LEVELS.label(level)}填报的报表", "indicator_id")
    if deadline is not None and freq and (wrong := cells.deadline_mismatch(row.get("deadline_day"), freq)):
        check.error(row, wrong, "deadline_day")
    if not check.clean(row):
        return None
    return dict(form_id=fid, form_name=name, report_level=level, frequency=freq, deadline_day=deadline,
                valid_from=start, valid_to=end, department=dept or "", issued_by=issuer, indicator_id=ind.id)


def _issuer(check: _Check, row: _Row, level: str | None) -> str | None:
    """下发单位: a region, by code or by name, above the form's level (its regions at that level report)."""
    given = _text(check, row, "issued_by", required=False)
    if not given:
        return None
    code, msg = check.cat.resolve_region(*((given, None) if given.isdigit() else (None, given)), None)
    if msg:
        return check.error(row, f"下发单位：{msg}", "issued_by")
    levels = vocab.LEVELS.codes
    mine = check.cat.by_code[code].level
    if level in levels and mine in levels and levels.index(mine) >= levels.index(level):
        return check.error(row, f"下发单位“{check.cat.by_code[code].name}”是{vocab.LEVELS.label(mine)}，须高于填报级别"
                                f"（{vocab.LEVELS.label(level)}）：它下面的{vocab.LEVELS.label(level)}填报这张报表", "issued_by")
    return code


FORM_WHOLE = ("form_name", "report_level", "frequency", "deadline_day", "valid_from", "valid_to", "department",
              "issued_by")


def _forms_agree(check: _Check, df: pd.DataFrame) -> list[Problem]:
    """Every row of one 报表 says the same of it (name, level, frequency, deadline, dates, department): a
    differing row is named, against the form's first row."""
    out = []
    for fid, rows in df.groupby("form_id", sort=False):
        first = rows.iloc[0]
        for r in rows.iloc[1:].to_dict("records"):
            for c in FORM_WHOLE:
                a, b = first[c], r[c]
                if not (a == b or (pd.isna(a) and pd.isna(b))):
                    header = check.sheet.header[check.cols[c]] if c in check.cols else check.kind[c].header
                    out.append(error(check.file, f"报表 {fid} 的“{header}”与第 {first['_row']} 行不一致：同一报表"
                                     "的各行须写法相同", sheet=check.sheet.name, row=r["_row"], column=header))
    return out


@dataclass(frozen=True)
class _Rules:
    row: Callable                    # (check, row) → the row in the data contract, or None after its problems
    duplicate: str                   # the message for a second row with the same key ({key}: its first part)
    duplicate_at: tuple = ()         # the columns that message points at
    after: Callable | None = None    # (check, rows) → problems across the rows


RULES = {
    "observations": _Rules(_observation, "与第 {row} 行重复：同一指标、区划、时期出现两次", ("period",),
                           lambda check, df: _year_on_year(df, check.cat, check.file, check.factor)),
    "targets": _Rules(_target, "与第 {row} 行重复：同一指标、区划、年度出现两次"),
    "regions": _Rules(_region_row, "区划代码 {key} 与第 {row} 行重复", ("code",), lambda check, df: _tree(check, df) + \
                      _successions(check, df) + \
                      official.region_changes(check.file, df, check.cat.regions,
                                              {c: check.sheet.header[i] for c, i in check.cols.items()})),
    "indicators": _Rules(_indicator_row, "指标编码 {key} 与第 {row} 行重复", ("id",)),
    "forms": _Rules(_form_row, "报表 {key} 中的指标与第 {row} 行重复：一个指标在一张报表中只列一次", ("indicator_id",),
                    _forms_agree),
}
assert set(RULES) == set(contract.KINDS)
