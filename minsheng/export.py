"""The 数据 page's table as files: CSV that Excel/WPS open without garbled Chinese, XLSX with metadata."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from minsheng import fmt, repo

LEVELS = ("city", "county", "township", "village")
COLUMNS = {
    "indicator_id": "指标编码", "name_zh": "指标名称", "region_code": "区划代码", "region_name": "区划名称",
    "level_zh": "级别", "period_label": "时期", "period": "时期起始日", "value": "数值", "unit": "单位",
    "numerator": "分子", "denominator": "分母", "min_value": "下级最小值", "max_value": "下级最大值",
    "basis": "口径", "status_zh": "数据状态", "source": "来源",
}


class ExportError(ValueError):
    """A filter that cannot be exported; the message is for the user, in Chinese."""


@dataclass
class Query:
    """What was asked for, checked, with the words that describe it in the file's metadata."""
    indicators: list[str]
    region: str
    level: str | None
    date_from: dt.date
    date_to: dt.date
    regions: list[str] | None = None
    description: list[tuple[str, str]] = field(default_factory=list)


def parse_period(text: str, end: bool = False) -> dt.date:
    """'2023' → 2023-01-01 (or 2023-12-01 as an end), '2023-06' / '2023年6月' → 2023-06-01."""
    t = text.strip()
    m = re.fullmatch(r"(\d{4})(?:年)?", t)
    if m:
        return dt.date(int(m.group(1)), 12 if end else 1, 1)
    m = re.fullmatch(r"(\d{4})[-/年.](\d{1,2})(?:月)?(?:[-/.](\d{1,2})日?)?", t)
    if m and 1 <= int(m.group(2)) <= 12:
        return dt.date(int(m.group(1)), int(m.group(2)), 1)
    raise ExportError(f"无法识别的时期“{text}”，请写成 2023、2023-06 或 2023年6月")


def check(indicators: list[str], region: str | None, level: str | None, date_from: dt.date | None,
          date_to: dt.date | None, regions: list[str] | None = None, directory: Path | None = None) -> Query:
    """Validate a filter against the catalogue and build its human description alongside."""
    cat = repo.indicators(directory).set_index("id")
    reg = repo.regions(directory).set_index("code")
    unknown = [i for i in indicators if i not in cat.index]
    if not indicators or unknown:
        raise ExportError(f"未知指标编码：{'、'.join(unknown) or '（未指定）'}；可用编码见 数据 页或 indicators 表")
    if region is None:
        roots = reg[reg["parent_code"].isna()].index
        region = roots[0]
    if region not in reg.index:
        raise ExportError(f"未知区划代码：{region}")
    if level is not None and level not in LEVELS:
        raise ExportError(f"未知级别：{level}（可选 {'、'.join(LEVELS)}）")
    date_from = date_from or dt.date(1900, 1, 1)
    date_to = date_to or dt.date(2999, 12, 1)
    if date_from > date_to:
        raise ExportError("起始时期晚于结束时期")
    names = [f"{cat.loc[i, 'name_zh']}（{i}，{cat.loc[i, 'unit']}）" for i in indicators]
    desc = [("指标", "；".join(names)),
            ("区域", f"{reg.loc[region, 'name']}（{region}）"),
            ("级别", "本级" if level is None else fmt.LEVEL_ZH.get(level, level)),
            ("时期", f"{date_from:%Y-%m} 至 {date_to:%Y-%m}")]
    if regions:
        bad = [r for r in regions if r not in reg.index]
        if bad:
            raise ExportError(f"未知区划代码：{'、'.join(bad)}")
        desc.append(("限定区划", "、".join(reg.loc[r, "name"] for r in regions)))
    return Query(list(indicators), region, level, date_from, date_to, regions, desc)


def regions_in_scope(q: Query, directory: Path | None = None) -> list[str]:
    reg = repo.regions(directory)
    if q.level is None:
        codes = [q.region]
    else:
        children: dict = {}
        for c, p in zip(reg["code"], reg["parent_code"]):
            children.setdefault(p, []).append(c)
        level = dict(zip(reg["code"], reg["level"]))
        codes, stack = [], [q.region]
        while stack:
            c = stack.pop()
            if level[c] == q.level:
                codes.append(c)
            stack.extend(children.get(c, []))
    if q.regions:
        codes = [c for c in codes if c in set(q.regions)]
    return sorted(codes)


def table(q: Query, directory: Path | None = None) -> pd.DataFrame:
    """The rows the 数据 page shows and exports: one per indicator, region and period."""
    codes = regions_in_scope(q, directory)
    s = repo.series(q.indicators, codes, q.date_from, q.date_to, directory) if codes else pd.DataFrame()
    if s.empty:
        return pd.DataFrame(columns=list(COLUMNS.values()))
    cat = repo.indicators(directory).set_index("id")
    reg = repo.regions(directory).set_index("code")
    s = s.assign(
        name_zh=s["indicator_id"].map(cat["name_zh"]), unit=s["indicator_id"].map(cat["unit"]),
        region_name=s["region_code"].map(reg["name"]), level_zh=s["region_code"].map(reg["level"]).map(fmt.LEVEL_ZH),
        period_label=period_labels(s["period"], s["indicator_id"].map(cat["frequency"])),
        basis=["下级汇总" if d else "本级报送" for d in s["derived"]],
        status_zh=s["status"].map(fmt.STATUS_ZH),
        period=s["period"].dt.date,
        value=s["value"].round(6),
        **{c: pd.to_numeric(s[c], errors="coerce").astype("float64").round(6)
           for c in ("numerator", "denominator", "min_value", "max_value")},
    )
    return s[list(COLUMNS)].rename(columns=COLUMNS).reset_index(drop=True)


def period_labels(periods: pd.Series, frequency: pd.Series) -> pd.Series:
    """fmt.period_label for a whole column at once (a per-row call dominated large exports)."""
    year = periods.dt.year.astype(str)
    month = periods.dt.month
    labels = year + "年"
    labels = labels.where(frequency != "month", year + "年" + month.astype(str) + "月")
    return labels.where(frequency != "quarter", year + "年第" + ((month - 1) // 3 + 1).astype(str) + "季度")


def metadata(q: Query, df: pd.DataFrame, directory: Path | None = None) -> list[tuple[str, str]]:
    meta = repo.meta(directory)
    cat = repo.indicators(directory).set_index("id")
    rows = [("标题", meta.get("title", "民生指标")), *q.description, ("行数", str(len(df)))]
    for i in q.indicators:
        c = cat.loc[i]
        rows.append((f"口径：{c['name_zh']}", f"单位 {c['unit']}；{fmt.KIND_ZH.get(c['kind'], c['kind'])}；"
                     f"{fmt.FREQ_ZH.get(c['frequency'], c['frequency'])}{'，年内累计' if c['cumulative'] else ''}；"
                     f"报送到{fmt.LEVEL_ZH.get(c['report_level'], c['report_level'])}"))
    sources = sorted(set(df["来源"].dropna())) if "来源" in df else []
    rows += [("来源", "；".join(sources) or "—"), ("数据日期", meta.get("data_date") or "未知"),
             ("导出时间", dt.datetime.now().strftime("%Y-%m-%d %H:%M")),
             ("汇总规则", "计数/金额为下级之和；比率为Σ分子/Σ分母；标准类不加总，上级显示本级标准及下级最小–最大值")]
    if meta.get("demo"):
        rows.append(("说明", "演示数据，非官方统计"))
    return rows


def to_csv(df: pd.DataFrame, encoding: str = "utf-8-sig") -> bytes:
    """CSV bytes; UTF-8 with BOM by default (what Excel needs for Chinese), GBK on request."""
    if encoding not in ("utf-8-sig", "gbk", "gb18030", "utf-8"):
        raise ExportError(f"不支持的编码：{encoding}")
    return df.to_csv(index=False).encode(encoding)


def to_xlsx(df: pd.DataFrame, meta: list[tuple[str, str]]) -> bytes:
    """XLSX with a 数据 sheet and a 说明 sheet (filter, units, sources, data date)."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        df.to_excel(xw, sheet_name="数据", index=False)
        pd.DataFrame(meta, columns=["项目", "内容"]).to_excel(xw, sheet_name="说明", index=False)
        ws = xw.sheets["数据"]
        ws.freeze_panes = "A2"
        for col in ws.columns:
            width = max(len(str(c.value or "")) for c in col[:200])
            ws.column_dimensions[col[0].column_letter].width = min(40, max(8, width * 1.6))
        ws2 = xw.sheets["说明"]
        ws2.column_dimensions["A"].width = 24
        ws2.column_dimensions["B"].width = 90
    return buf.getvalue()


def write(q: Query, out: Path, directory: Path | None = None, encoding: str = "utf-8-sig") -> int:
    """Write the export to `out` (.csv or .xlsx) atomically; returns the row count."""
    df = table(q, directory)
    suffix = out.suffix.lower()
    if suffix == ".csv":
        payload = to_csv(df, encoding)
    elif suffix == ".xlsx":
        payload = to_xlsx(df, metadata(q, df, directory))
    else:
        raise ExportError(f"输出文件须为 .csv 或 .xlsx：{out.name}")
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(payload)
    tmp.replace(out)
    return len(df)
