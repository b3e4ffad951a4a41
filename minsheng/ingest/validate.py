"""Turn a sheet of cell texts into rows of the data contract, finding every problem on the way.

Each check names the file, sheet, row and column the clerk has to fix, quotes what was written
there, and says what was expected. Nothing here writes anything.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from minsheng.ingest import contract
from minsheng.ingest.cells import (level_of_code, normalise_code, parent_of_code, parse_deadline, parse_number,
                                   parse_period, parse_year, parse_yes_no, period_shape)
from minsheng.ingest.catalog import Catalog
from minsheng.ingest.problems import Problem, error, warning
from minsheng.ingest.readers import Sheet

KINDS = ("observations", "targets", "regions", "indicators")
KIND_ZH = {"observations": "指标数据", "targets": "目标任务", "regions": "区划", "indicators": "指标目录"}

LEVELS = {"province": "province", "省": "province", "city": "city", "市": "city", "地级": "city", "地市": "city",
          "county": "county", "县": "county", "区县": "county", "县级": "county", "县（市、区）": "county",
          "township": "township", "乡镇": "township", "街道": "township", "乡镇（街道）": "township", "乡级": "township",
          "village": "village", "村": "village", "社区": "village", "村（社区）": "village", "村级": "village"}
LEVEL_ORDER = ["province", "city", "county", "township", "village"]
IND_KINDS = {"count": "count", "计数": "count", "amount": "amount", "金额": "amount", "数量": "amount",
             "rate": "rate", "比率": "rate", "率": "rate", "standard": "standard", "标准": "standard"}
FREQS = {"year": "year", "年": "year", "年度": "year", "quarter": "quarter", "季": "quarter", "季度": "quarter",
         "month": "month", "月": "month", "月度": "month"}
STATUS = {"final": "final", "正式": "final", "终审": "final", "provisional": "provisional", "初步": "provisional",
          "快报": "provisional", "初报": "provisional"}


@dataclass
class Parsed:
    kind: str
    rows: pd.DataFrame                 # rows in the data contract, plus _sheet and _row for the preview
    problems: list[Problem]


def _suggest_indicator(cat: Catalog, text: str) -> str:
    close = difflib.get_close_matches(text, list(cat.ind), n=3, cutoff=0.6)
    names = {r.name_zh: i for i, r in cat.ind.items()}
    by_name = names.get(text)
    if by_name:
        return f"。“{text}”是指标名称，请填指标编码 {by_name}"
    return f"。是否为：{'、'.join(close)}？" if close else ""


def _wide_columns(header: list[str]) -> list[tuple[int, str]]:
    # a header typed 2026-09 often arrives as a date cell (2026-09-01): still a period column
    return [(i, h) for i, h in enumerate(header) if h and period_shape(h)]


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
    fn = {"observations": _observations, "targets": _targets, "regions": _regions, "indicators": _indicators}[kind]
    rows, more = fn(sheet, cat, indicator=indicator, within=within, factor=factor)
    return Parsed(kind, rows, problems + more)


def _missing_columns(sheet: Sheet, cols: dict, needed: list[str], kind: str) -> list[Problem]:
    out = []
    for c in needed:
        if c not in cols:
            col = contract.KINDS[kind][c]
            out.append(error(sheet.file, f"缺少“{col.header}”列（可写作：{'、'.join(col.headers[:2])} 或 {c}）。"
                             f"本文件的列：{'、'.join(h for h in sheet.header if h)}", sheet=sheet.name, row=1))
    return out


def _observations(sheet: Sheet, cat: Catalog, *, indicator, within, factor):
    file, sname = sheet.file, sheet.name
    cols = contract.map_headers(sheet.header, "observations")
    wide = _wide_columns(sheet.header)
    problems: list[Problem] = []
    if "region_code" not in cols and "region_name" not in cols:
        return pd.DataFrame(), [error(file, "缺少“区划代码”或“区划名称”列", sheet=sname, row=1)]
    if wide and "value" not in cols:
        if indicator is None and "indicator_id" not in cols:
            return pd.DataFrame(), [error(file, "这是一行一个区划、一列一个时期的宽表：请指定导入哪个指标"
                                          "（命令行 --indicator，或页面上选择），或加一列“指标编码”", sheet=sname, row=1)]
        records = []
        for k, r in enumerate(sheet.rows):
            for i, h in wide:
                records.append((k, r, h, r[i] if i < len(r) else None, h))
    else:
        need = ["period"] + (["indicator_id"] if indicator is None else [])
        miss = _missing_columns(sheet, cols, need, "observations")
        if "value" not in cols and not ("numerator" in cols and "denominator" in cols):
            miss += _missing_columns(sheet, cols, ["value"], "observations")
        if miss:
            return pd.DataFrame(), miss
        records = [(k, r, r[cols["period"]], r[cols["value"]] if "value" in cols else None, None)
                   for k, r in enumerate(sheet.rows)]
    out, seen = [], {}
    # Large files repeat the same codes, periods and numbers on many rows: each distinct text is
    # checked once (these checks depend only on their arguments).
    regions_seen: dict = {}
    periods_seen: dict = {}
    numbers_seen: dict = {}

    def region_of(code_text, name_text):
        key = (code_text, name_text)
        if key not in regions_seen:
            regions_seen[key] = cat.resolve_region(code_text, name_text, within)
        return regions_seen[key]

    def period_of(text, frequency):
        key = (text, frequency)
        if key not in periods_seen:
            periods_seen[key] = parse_period(text, frequency)
        return periods_seen[key]

    def number(text):
        if text is None:
            return None, None
        if text not in numbers_seen:
            numbers_seen[text] = parse_number(text)
        return numbers_seen[text]

    for k, r, period_text, value_text, wide_col in records:
        rowno = sheet.first_row + k
        if all(c is None for c in r):
            continue
        get = lambda c: r[cols[c]] if c in cols and cols[c] < len(r) else None  # noqa: E731
        colname = lambda c: sheet.header[cols[c]] if c in cols else None  # noqa: E731
        at = dict(sheet=sname, row=rowno)
        ind_id = get("indicator_id") or indicator
        if ind_id is None:
            problems.append(error(file, "指标编码为空", column=colname("indicator_id"), **at))
            continue
        ind = cat.ind.get(ind_id)
        if ind is None:
            problems.append(error(file, f"未知指标编码“{ind_id}”{_suggest_indicator(cat, ind_id)}",
                                  column=colname("indicator_id"), **at))
            continue
        code, msg = region_of(get("region_code"), get("region_name"))
        if msg:
            problems.append(error(file, msg, column=colname("region_code") or colname("region_name"), **at))
            continue
        level = cat.by_code[code].level
        report = ind.report_level
        if level != report and not (ind.kind == "standard" and LEVEL_ORDER.index(level) < LEVEL_ORDER.index(report)):
            problems.append(error(file, f"{cat.by_code[code].name}是{level_zh(level)}，而指标“{ind.name_zh}”按"
                                  f"{level_zh(report)}报送（上级数值由系统汇总，不需填报）",
                                  column=colname("region_code") or colname("region_name"), **at))
            continue
        pcol = wide_col or colname("period")
        if period_text is None:
            problems.append(error(file, "时期为空", column=pcol, **at))
            continue
        period, msg = period_of(period_text, ind.frequency)
        if msg:
            problems.append(error(file, msg, column=pcol, **at))
            continue
        vcol = wide_col or colname("value")
        if wide_col and value_text is None:
            continue  # a blank cell in a wide table: that period was not reported (a gap, not a zero)
        value, msg = number(value_text)
        if msg:
            problems.append(error(file, msg, column=vcol, **at))
            continue
        num, msg_n = number(get("numerator"))
        den, msg_d = number(get("denominator"))
        for m, c in ((msg_n, "numerator"), (msg_d, "denominator")):
            if m:
                problems.append(error(file, m, column=colname(c), **at))
        if msg_n or msg_d:
            continue
        if ind.kind == "rate":
            if (num is None) != (den is None):
                problems.append(error(file, "分子和分母须同时填写", column=colname("numerator") or colname("denominator"), **at))
                continue
            if den is not None:
                if den <= 0 or num < 0:
                    problems.append(error(file, f"分母须大于 0、分子不能为负（分子 {num:g}，分母 {den:g}）",
                                          column=colname("denominator"), **at))
                    continue
                if num > den:
                    problems.append(error(file, f"分子 {num:g} 大于分母 {den:g}", column=colname("numerator"), **at))
                    continue
                computed = 100 * num / den
                if value is None:
                    value = computed
                elif abs(value - computed) > 0.05 + 1e-9:
                    problems.append(error(file, f"数值 {value:g}% 与 分子/分母 = {computed:.2f}% 不一致",
                                          column=vcol, **at))
                    continue
            if value is None:
                problems.append(error(file, "数值为空", column=vcol, **at))
                continue
            if not 0 <= value <= 100:
                problems.append(error(file, f"比率 {value_text} 超出 0–100% 范围", column=vcol, **at))
                continue
            if den is None:
                problems.append(warning(file, "比率只有数值、没有分子分母：上级区划汇总时无法计入此行",
                                        column=vcol, **at))
        else:
            if value is None:
                problems.append(error(file, "数值为空（未报送请整行删除，不要填 0）", column=vcol, **at))
                continue
            if value < 0:
                problems.append(error(file, f"{'标准' if ind.kind == 'standard' else '计数/金额'}不能为负数：{value_text}",
                                      column=vcol, **at))
                continue
        status_text = get("status")
        status = STATUS.get((status_text or "final").strip().lower())
        if status is None:
            problems.append(error(file, f"状态“{status_text}”应为 正式/初步（final/provisional）",
                                  column=colname("status"), **at))
            continue
        key = (ind_id, code, period)
        if key in seen:
            problems.append(error(file, f"与第 {seen[key]} 行重复：同一指标、区划、时期出现两次", column=pcol, **at))
            continue
        seen[key] = rowno
        out.append(dict(indicator_id=ind_id, region_code=code, period=period, value=float(value),
                        numerator=num, denominator=den, status=status, source=get("source") or file,
                        _sheet=sname, _row=rowno))
    df = pd.DataFrame(out)
    if not df.empty:
        problems += _year_on_year(df, cat, file, factor)
    return df, problems


def level_zh(level: str) -> str:
    return {"province": "省级", "city": "市级", "county": "县级", "township": "乡镇级", "village": "村级"}.get(level, level)


def _year_on_year(df: pd.DataFrame, cat: Catalog, file: str, factor: float) -> list[Problem]:
    """Warn where a value moved more than `factor` times against the same period a year before."""
    if factor <= 1:
        return []
    prev = df[["indicator_id", "region_code", "period", "value"]]
    old = cat.observations
    if old is None and cat.observations_file is not None and Path(cat.observations_file).exists():
        from minsheng import rollup

        ago = prev.assign(period=[p.replace(year=p.year - 1) for p in prev["period"]])
        old = rollup.existing(cat.observations_file, ago)  # just the year-ago rows of the file's keys
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


def _rows(sheet: Sheet, cols: dict[str, int]):
    """Each non-empty row as (Excel row number, its location, a cell getter, a header-name getter)."""
    colname = lambda c: sheet.header[cols[c]] if c in cols else None  # noqa: E731
    for k, r in enumerate(sheet.rows):
        if all(c is None for c in r):
            continue
        rowno = sheet.first_row + k
        get = lambda c, r=r: r[cols[c]] if c in cols and cols[c] < len(r) else None  # noqa: E731
        yield rowno, dict(sheet=sheet.name, row=rowno), get, colname


def _text(get, c, colname, file, at, problems, required=True):
    v = get(c)
    if v is None and required:
        problems.append(error(file, f"“{colname(c) or c}”为空", column=colname(c), **at))
    return v


def _targets(sheet: Sheet, cat: Catalog, *, indicator, within, factor):
    file, sname = sheet.file, sheet.name
    cols = contract.map_headers(sheet.header, "targets")
    miss = _missing_columns(sheet, cols, ["indicator_id", "year", "target", "department"], "targets")
    if "region_code" not in cols and "region_name" not in cols:
        miss.append(error(file, "缺少“区划代码”或“区划名称”列", sheet=sname, row=1))
    if miss:
        return pd.DataFrame(), miss
    problems, out, seen = [], [], {}
    for rowno, at, get, colname in _rows(sheet, cols):
        n0 = len(problems)
        ind_id = _text(get, "indicator_id", colname, file, at, problems)
        ind = cat.ind.get(ind_id) if ind_id else None
        if ind_id and ind is None:
            problems.append(error(file, f"未知指标编码“{ind_id}”{_suggest_indicator(cat, ind_id)}",
                                  column=colname("indicator_id"), **at))
        code, msg = cat.resolve_region(get("region_code"), get("region_name"), within)
        if msg:
            problems.append(error(file, msg, column=colname("region_code") or colname("region_name"), **at))
        year_text = _text(get, "year", colname, file, at, problems)
        year = None
        if year_text:
            year, msg = parse_year(year_text)
            if msg:
                problems.append(error(file, msg, column=colname("year"), **at))
        target, msg = parse_number(get("target"))
        if msg or target is None or target <= 0:
            problems.append(error(file, msg or "目标值须为大于 0 的数字", column=colname("target"), **at))
        dept = _text(get, "department", colname, file, at, problems)
        deadline, msg = parse_deadline(get("deadline"))
        if msg:
            problems.append(error(file, msg, column=colname("deadline"), **at))
        deadline = deadline or (dt.date(year, 12, 31) if year else None)
        if len(problems) > n0:
            continue
        key = (ind_id, code, year)
        if key in seen:
            problems.append(error(file, f"与第 {seen[key]} 行重复：同一指标、区划、年度出现两次", **at))
            continue
        seen[key] = rowno
        out.append(dict(indicator_id=ind_id, region_code=code, year=year, target=float(target), department=dept,
                        task=get("task") or ind.name_zh, deadline=deadline, _sheet=sname, _row=rowno))
    return pd.DataFrame(out), problems


def _regions(sheet: Sheet, cat: Catalog, *, indicator, within, factor):
    file, sname = sheet.file, sheet.name
    cols = contract.map_headers(sheet.header, "regions")
    miss = _missing_columns(sheet, cols, ["code", "name"], "regions")
    if miss:
        return pd.DataFrame(), miss
    problems, out, seen = [], [], {}
    for rowno, at, get, colname in _rows(sheet, cols):
        n0 = len(problems)
        code, msg = normalise_code(get("code") or "")
        if msg:
            problems.append(error(file, msg, column=colname("code"), **at))
            continue
        name = _text(get, "name", colname, file, at, problems)
        level_text = get("level")
        level = LEVELS.get(level_text.strip()) if level_text else level_of_code(code)
        if level is None:
            problems.append(error(file, f"级别“{level_text}”应为 市/县/乡镇/村（city/county/township/village）",
                                  column=colname("level"), **at))
        elif level != level_of_code(code):
            problems.append(error(file, f"级别“{level_text}”与区划代码 {code} 不符：按统计用区划代码的结构它是"
                                  f"{level_zh(level_of_code(code))}", column=colname("level"), **at))
        parent = None
        if get("parent_code"):
            parent, msg = normalise_code(get("parent_code"))
            if msg:
                problems.append(error(file, msg, column=colname("parent_code"), **at))
        else:
            parent = parent_of_code(code)  # 统计用区划代码 carry their parent in their digits
        lon, msg1 = parse_number(get("lon"))
        lat, msg2 = parse_number(get("lat"))
        for m, c in ((msg1, "lon"), (msg2, "lat")):
            if m:
                problems.append(error(file, m, column=colname(c), **at))
        if lon is not None and lat is not None and not (73 <= lon <= 136 and 3 <= lat <= 54):
            problems.append(error(file, f"经纬度（{lon:g}, {lat:g}）不在中国范围内；经度、纬度是否填反？",
                                  column=colname("lon"), **at))
        if len(problems) > n0:
            continue
        if code in seen:
            problems.append(error(file, f"区划代码 {code} 与第 {seen[code]} 行重复", column=colname("code"), **at))
            continue
        seen[code] = rowno
        out.append(dict(code=code, name=name, level=level, parent_code=parent, lon=lon, lat=lat,
                        _sheet=sname, _row=rowno))
    df = pd.DataFrame(out)
    known = set(cat.by_code) | set(df["code"] if not df.empty else [])
    for row in df.to_dict("records") if not df.empty else []:
        if row["parent_code"] and row["parent_code"] not in known and row["level"] != "province":
            # a top-level region of the deployment may have a parent we do not hold (the province)
            if level_of_code(row["code"]) != "city" or any(level_of_code(c) == "city" for c in known - {row["code"]}):
                problems.append(error(file, f"上级代码 {row['parent_code']} 不在区划表或本文件中", sheet=row["_sheet"],
                                      row=row["_row"], column=sheet.header[cols["parent_code"]] if "parent_code" in cols else None))
    return df, problems


def _indicators(sheet: Sheet, cat: Catalog, *, indicator, within, factor):
    file, sname = sheet.file, sheet.name
    cols = contract.map_headers(sheet.header, "indicators")
    miss = _missing_columns(sheet, cols, ["id", "name_zh", "unit", "kind", "frequency"], "indicators")
    if miss:
        return pd.DataFrame(), miss
    problems, out, seen = [], [], {}
    for rowno, at, get, colname in _rows(sheet, cols):
        n0 = len(problems)
        iid = _text(get, "id", colname, file, at, problems)
        if iid and not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", iid):
            problems.append(error(file, f"指标编码“{iid}”只能用小写字母、数字和下划线，以字母开头",
                                  column=colname("id"), **at))
        name = _text(get, "name_zh", colname, file, at, problems)
        unit = _text(get, "unit", colname, file, at, problems)
        kind = IND_KINDS.get((get("kind") or "").strip().lower())
        if kind is None:
            problems.append(error(file, f"类型“{get('kind')}”应为 计数/金额/比率/标准（count/amount/rate/standard）",
                                  column=colname("kind"), **at))
        freq = FREQS.get((get("frequency") or "").strip().lower())
        if freq is None:
            problems.append(error(file, f"频度“{get('frequency')}”应为 年度/季度/月度", column=colname("frequency"), **at))
        cumulative, msg_c = parse_yes_no(get("cumulative"))
        hib, msg_h = parse_yes_no(get("higher_is_better"))
        for m, c in ((msg_c, "cumulative"), (msg_h, "higher_is_better")):
            if m:
                problems.append(error(file, m, column=colname(c), **at))
        level_text = get("report_level")
        level = LEVELS.get(level_text.strip()) if level_text else "county"
        if level is None:
            problems.append(error(file, f"报送级别“{level_text}”应为 市/县/乡镇/村", column=colname("report_level"), **at))
        if len(problems) > n0:
            continue
        if iid in seen:
            problems.append(error(file, f"指标编码 {iid} 与第 {seen[iid]} 行重复", column=colname("id"), **at))
            continue
        seen[iid] = rowno
        out.append(dict(id=iid, name_zh=name, name_en=get("name_en") or "", unit=unit, domain=get("domain") or "其他",
                        kind=kind, frequency=freq, cumulative=bool(cumulative), report_level=level,
                        higher_is_better=True if hib is None else hib, description=get("description") or "",
                        source=get("source") or file, _sheet=sname, _row=rowno))
    return pd.DataFrame(out), problems
