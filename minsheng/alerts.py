"""预警: conditions in the data that someone must be told of (a task falling behind, a return missing at its
deadline, a figure out of line), each an `Alert` with a stable key so it is told once and escalated, not repeated.

`evaluate(directory, today, area=...)` runs every rule on the current data version; `load_rules` reads the
bureau's settings (<data>/settings/alert_rules.toml, the default shipped in minsheng/defaults/). The rules:

  task_lag        a task of the data date's year 滞后 / 严重滞后 (metrics.goal_table, as the 目标 page judges it)
  return_missing  a 报表 return not reported when its deadline has passed (progress.cells: 未报 / 已退回)
  outlier         the latest 同比 (or value) outside median ± k·1.4826·MAD of the same period's in earlier years
  children_sum    a region's own value (count/amount) that disagrees with the sum of its children's
  rule:<id>       a configured threshold on an indicator at a region level

Keys name the rule, the subject, the period and the condition's grade, never a figure, so a rerun or a new
data version finds the same keys for the same conditions. A grade is part of the key where it escalates: a
task that moves 滞后 → 严重滞后 gets a new key (told again, as news), one that stays 滞后 month after month keeps
its key for the year (delivery's own escalation after N days counts from the first telling); a return past
`severe_after_days` gets a key of its own beside the first one's.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from dataclasses import dataclass, field, fields as dc_fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from minsheng import fmt, forms, lineage, metrics, notes, progress, repo, vocab
from minsheng.regions import Tree

LEVELS = ("严重", "关注")  # worst first
RULES_FILE = Path("settings") / "alert_rules.toml"  # inside the data directory
DEFAULT_FILE = Path(__file__).resolve().parent / "defaults" / "alert_rules.toml"
MAD_SCALE = 1.4826  # MAD × this estimates the standard deviation of normally distributed values


@dataclass(frozen=True)
class Alert:
    """One condition found in the data. Plain text only: every channel escapes it for its own markup."""
    rule: str                   # "task_lag", "return_missing", "outlier", "children_sum", or "rule:<id>" (configured)
    key: str                    # the same condition on the same subject and period gives the same key, run after run
    level: str                  # one of LEVELS
    region_code: str
    title: str                  # short, e.g. "开展就业技能培训 严重滞后"
    text: str                   # one or two sentences with the figures and their units
    department: str | None = None
    indicator_id: str | None = None
    period: dt.date | None = None
    owner: str | None = None    # 责任人 named in the task's latest progress note, where there is one


# --- settings --------------------------------------------------------------------------------------

class RulesError(ValueError):
    """A settings file that cannot be used; the message (Chinese) names the file, the rule and the key."""

    def __init__(self, message: str, file: str = "", rule: str | None = None, key: str | None = None):
        super().__init__(message)
        self.file, self.rule, self.key = file, rule, key


@dataclass(frozen=True)
class TaskLag:
    enabled: bool = True
    severe_gap: float = 100 * metrics.SEVERE_GAP  # 个百分点 behind 序时进度 beyond which a task is 严重滞后


@dataclass(frozen=True)
class ReturnMissing:
    enabled: bool = True
    severe_after_days: int = 10  # days past the deadline after which a missing return is 严重
    lookback_months: int = 12    # periods whose deadline fell within this many months before today


@dataclass(frozen=True)
class Outlier:
    enabled: bool = True
    k: float = 3.5
    min_years: int = 3
    max_years: int = 10
    floor_pct: float = 5.0  # the scaled MAD is at least this % (history all alike: MAD 0)
    basis: str = "yoy"      # "yoy": the 同比 against earlier years' 同比; "level": the value against earlier values


@dataclass(frozen=True)
class ChildrenSum:
    enabled: bool = True
    tolerance_pct: float = 0.5


OPS = {">": "高于", ">=": "达到或高于", "<": "低于", "<=": "不高于", "yoy_drop_pct": "同比下降", "yoy_rise_pct": "同比上升"}
SEVERITIES = LEVELS


@dataclass(frozen=True)
class Threshold:
    id: str
    indicator: str
    level: str
    op: str
    threshold: float
    name: str = ""
    severity: str = "关注"
    enabled: bool = True


@dataclass(frozen=True)
class Rules:
    task_lag: TaskLag = field(default_factory=TaskLag)
    return_missing: ReturnMissing = field(default_factory=ReturnMissing)
    outlier: Outlier = field(default_factory=Outlier)
    children_sum: ChildrenSum = field(default_factory=ChildrenSum)
    thresholds: tuple[Threshold, ...] = ()


SECTIONS = {"task_lag": TaskLag, "return_missing": ReturnMissing, "outlier": Outlier, "children_sum": ChildrenSum}
SECTION_ZH = {"task_lag": "任务滞后", "return_missing": "报表未报", "outlier": "数值异常", "children_sum": "上下级不符"}
# (lowest, highest) a setting may take: a k of 0 would flag every value, a negative tolerance none
LIMITS = {"severe_gap": (0.1, 100), "severe_after_days": (0, 366), "lookback_months": (1, 120), "k": (0.5, 50),
          "min_years": (2, 50), "max_years": (2, 100), "floor_pct": (0, 100), "tolerance_pct": (0, 100)}
_RULE_ID = re.compile(r"[a-z0-9_]{1,40}")
_TYPE_ZH = {bool: "true 或 false", int: "整数", float: "数字", str: "文字（加引号）"}
CHOICES = {"basis": ("yoy", "level")}


def _label(path: Path) -> str:
    """The file as a message names it: settings/alert_rules.toml, not the server's whole path."""
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _typed(value, kind: type, where: str, file: str, rule: str | None, key: str):
    """`value` as `kind` (bool, int, float or str), or RulesError: TOML's true is no number, 1.5 no whole
    number; a text one of its CHOICES."""
    if kind is str:
        if not isinstance(value, str) or value not in CHOICES.get(key, (value,)):
            raise RulesError(f"{where}：{key} 应为 {' 或 '.join(map(repr, CHOICES.get(key, ())))}，而不是 {value!r}",
                             file, rule, key)
        return value
    ok = isinstance(value, bool) if kind is bool else (
        isinstance(value, int) and not isinstance(value, bool) if kind is int else
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))
    if not ok:
        raise RulesError(f"{where}：{key} 应为{_TYPE_ZH[kind]}，而不是 {value!r}", file, rule, key)
    if key in LIMITS and not LIMITS[key][0] <= value <= LIMITS[key][1]:
        low, high = LIMITS[key]
        raise RulesError(f"{where}：{key} 应在 {low} 到 {high} 之间，而不是 {value!r}", file, rule, key)
    return float(value) if kind is float else value


def _section(name: str, table, file: str):
    """One built-in rule's settings, every key known and of its type."""
    where = f"预警规则文件 {file} 的 [{name}]（{SECTION_ZH[name]}）"
    if not isinstance(table, dict):
        raise RulesError(f"{where} 应为一节设置（[{name}] 下写 键 = 值）", file, name, None)
    cls = SECTIONS[name]
    known = {f.name: f for f in dc_fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in known:
            raise RulesError(f"{where}：没有 {key} 这一项；可写的有 {'、'.join(known)}", file, name, key)
        values[key] = _typed(value, type(known[key].default), where, file, name, key)
    return cls(**values)


_RULE_KEYS = {"id": str, "name": str, "indicator": str, "level": str, "op": str, "threshold": float,
              "severity": str, "enabled": bool}
_REQUIRED = ("id", "indicator", "level", "op", "threshold")


def _rule(i: int, table, file: str, known: set[str] | None, seen: set[str]) -> Threshold:
    """The i-th [[rule]] (1-based), checked key by key."""
    rid = table.get("id") if isinstance(table, dict) else None
    who = f"id = {rid!r}" if isinstance(rid, str) else "未写 id"
    where = f"预警规则文件 {file} 的第 {i} 条规则（{who}）"
    if not isinstance(table, dict):
        raise RulesError(f"{where} 应写成 [[rule]] 下的一组 键 = 值", file, str(i), None)
    tag = rid if isinstance(rid, str) else str(i)
    for key in table:
        if key not in _RULE_KEYS:
            raise RulesError(f"{where}：没有 {key} 这一项；可写的有 {'、'.join(_RULE_KEYS)}", file, tag, key)
    for key in _REQUIRED:
        if key not in table:
            raise RulesError(f"{where}：缺少必填项 {key}", file, tag, key)
    for key, kind in _RULE_KEYS.items():
        if key in table and kind is str and not isinstance(table[key], str):
            raise RulesError(f"{where}：{key} 应为文字（加引号），而不是 {table[key]!r}", file, tag, key)
    if not _RULE_ID.fullmatch(rid):
        raise RulesError(f"{where}：id 只能由小写字母、数字和下划线组成（至多 40 个字符）", file, tag, "id")
    if rid in seen:
        raise RulesError(f"{where}：id {rid!r} 与前面的规则重复", file, tag, "id")
    if known is not None and table["indicator"] not in known:
        raise RulesError(f"{where}：indicator 中的指标编码 {table['indicator']!r} 不在指标目录中", file, tag, "indicator")
    if table["level"] not in vocab.LOCAL_LEVELS:
        raise RulesError(f"{where}：level 应为 {'、'.join(vocab.LOCAL_LEVELS)} 之一，而不是 {table['level']!r}",
                         file, tag, "level")
    if table["op"] not in OPS:
        raise RulesError(f"{where}：op 应为 {'、'.join(OPS)} 之一，而不是 {table['op']!r}", file, tag, "op")
    if table.get("severity", "关注") not in SEVERITIES:
        raise RulesError(f"{where}：severity 应为 严重 或 关注，而不是 {table['severity']!r}", file, tag, "severity")
    threshold = _typed(table["threshold"], float, where, file, tag, "threshold")
    enabled = _typed(table.get("enabled", True), bool, where, file, tag, "enabled")
    seen.add(rid)
    return Threshold(id=rid, indicator=table["indicator"], level=table["level"], op=table["op"], threshold=threshold,
                     name=table.get("name") or rid, severity=table.get("severity", "关注"), enabled=enabled)


def _toml_error(e: tomllib.TOMLDecodeError, file: str) -> RulesError:
    """tomllib's English complaint as a Chinese one, keeping where it is."""
    m = re.search(r"line (\d+), column (\d+)", str(e))
    at = f"第 {m.group(1)} 行第 {m.group(2)} 列附近" if m else "某处"
    return RulesError(f"预警规则文件 {file} 不是有效的 TOML：{at}写法有误（键 = 值，文字加引号）", file)


def check_rules_file(path: Path, indicators=None) -> Rules:
    """The settings in `path`, or RulesError naming file, rule and key; `indicators` (ids) checks each rule's."""
    path = Path(path)
    file = _label(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise _toml_error(e, file) from None
    except UnicodeDecodeError:
        raise RulesError(f"预警规则文件 {file} 不是 UTF-8 编码的文本", file) from None
    except OSError:
        raise RulesError(f"预警规则文件 {file} 无法读取", file) from None
    known = set(indicators) if indicators is not None else None
    parts, seen, rules = {}, set(), []
    for name, table in raw.items():
        if name == "rule":
            if not isinstance(table, list):
                raise RulesError(f"预警规则文件 {file}：自定义规则应写成 [[rule]]（两层方括号）", file, None, "rule")
            rules = [_rule(i, t, file, known, seen) for i, t in enumerate(table, 1)]
        elif name in SECTIONS:
            parts[name] = _section(name, table, file)
        else:
            raise RulesError(f"预警规则文件 {file}：没有 [{name}] 这一节；可写的有 "
                             + "、".join(f"[{s}]" for s in SECTIONS) + "、[[rule]]", file, None, name)
    out = Rules(**parts, thresholds=tuple(rules))
    if out.outlier.min_years > out.outlier.max_years:
        raise RulesError(f"预警规则文件 {file} 的 [outlier]：min_years 不能大于 max_years", file, "outlier", "min_years")
    return out


def load_rules(directory: Path) -> Rules:
    """The bureau's settings from <data>/settings/alert_rules.toml; the built-in defaults where there is none."""
    path = Path(directory) / RULES_FILE
    if not path.exists():
        return Rules()
    return check_rules_file(path, repo.indicators(directory)["id"].tolist())


# --- what every rule reads ----------------------------------------------------------------------------

@dataclass
class _Data:
    """The current version's catalogue and regions within the area, and the series read so far (shared)."""
    directory: Path
    today: dt.date
    as_of: dt.date                      # the data date at `today`: no period that has not ended counts
    area: str | None
    regions: pd.DataFrame
    tree: Tree
    ind: pd.DataFrame                   # the catalogue, indexed by id
    last: dict[str, dt.date]            # indicator → its latest period with data ending by `as_of`
    first: dict[str, dt.date]           # indicator → its first period with data
    cache: dict = field(default_factory=dict)

    def __post_init__(self):
        """Each region's validity, looked up per child by children_sum."""
        self.validity = {c: (f, t) for c, f, t in
                         zip(self.regions["code"], self.regions["valid_from"], self.regions["valid_to"])}

    def name(self, code: str) -> str:
        """A region as alerts name it: its label, told apart from any namesake (Tree.label)."""
        return self.tree.label(code)

    def values(self, ids: tuple[str, ...], period: dt.date) -> pd.DataFrame:
        """`repo.series` of every region in the area for one period: own values and roll-ups, flagged."""
        k = (ids, period)
        if k not in self.cache:
            df = repo.series(list(ids), self.regions["code"].tolist(), period, period, self.directory, self.area)
            df["period"] = df["period"].dt.date
            self.cache[k] = df
        return self.cache[k]

    def amount(self, iid: str, value) -> str:
        """A value as a sentence writes it: the indicator's precision and unit, no space (453人, 53.0%)."""
        r = self.ind.loc[iid]
        return fmt.value_with_unit(value, r["unit"], r["kind"], decimals=int(r["decimals"])).replace(" ", "")


def data_date(directory: Path, today: dt.date) -> dt.date:
    """The data date as it stands at `today`: the store's, but never past the last month that has ended."""
    cap = dt.date(today.year, today.month, 1) - dt.timedelta(days=1)
    stored = repo.meta(directory).get("data_date")
    return min(dt.date.fromisoformat(stored), cap) if stored else cap


def _start(day: dt.date, frequency: str) -> dt.date:
    """The first day of the period of `frequency` that holds `day`."""
    step = {"month": 1, "quarter": 3}.get(frequency, 12)
    return dt.date(day.year, (day.month - 1) // step * step + 1, 1)


def _back(period: dt.date, frequency: str) -> dt.date:
    """The period before `period` (a month, a quarter or a year back)."""
    step = {"month": 1, "quarter": 3}.get(frequency, 12)
    n = period.year * 12 + period.month - 1 - step
    return dt.date(n // 12, n % 12 + 1, 1)


def latest_period(last: dt.date, frequency: str, as_of: dt.date) -> dt.date:
    """The newest period of an indicator that has data and has ended by `as_of` (a figure of a month not yet
    over is not yet judged)."""
    p = min(last, _start(as_of, frequency))
    while lineage.period_end(p, frequency) > as_of:
        p = _back(p, frequency)
    return p


def _context(directory: Path, today: dt.date, area: str | None) -> _Data | None:
    """Everything the rules share, or None when `area` is not a region of the data (fail closed)."""
    regions = repo.regions(directory, area=area)
    if area is not None and area not in set(regions["code"]):
        return None
    as_of = data_date(directory, today)
    ind = repo.indicators(directory).set_index("id", drop=False)
    per = repo.periods(directory)
    last, firsts = {}, {}
    for iid, first, p in zip(per["indicator_id"], per["first_period"], per["last_period"]):
        if iid in ind.index and pd.notna(p):
            firsts[iid] = pd.Timestamp(first).date()
            newest = latest_period(pd.Timestamp(p).date(), ind.loc[iid, "frequency"], as_of)
            if newest >= firsts[iid]:  # nothing had ended by `as_of`: no figure to judge
                last[iid] = newest
    return _Data(Path(directory), today, as_of, area, regions, Tree(regions), ind, last, firsts)


def _usable(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose value stands: a region's own figure, or a roll-up over every unit expected below it (one over
    some of them is a gap in the returns, which return_missing reports, not a fall in the figure)."""
    ok = df["value"].notna() & (~df["derived"].astype(bool) | (df["n_reported"] >= df["n_expected"]))
    return df[ok]


def _by_period(d: _Data, kinds: tuple[str, ...]) -> dict[dt.date, tuple[str, ...]]:
    """The indicators of these kinds grouped by their latest period, so each group is read in one query."""
    groups: dict[dt.date, list[str]] = {}
    for iid, p in sorted(d.last.items()):
        if d.ind.loc[iid, "kind"] in kinds:
            groups.setdefault(p, []).append(iid)
    return {p: tuple(ids) for p, ids in sorted(groups.items())}


def _years_back(period: dt.date, years: int) -> dt.date:
    """The same period `years` earlier: what a like-for-like history compares with."""
    return dt.date(period.year - years, period.month, 1)


# --- task_lag ---------------------------------------------------------------------------------------

def _task_regions(d: _Data, year: int) -> list[str]:
    """The regions of the area that have tasks in `year` (each region's own tasks are read by repo.targets)."""
    from minsheng.ingest import pipeline

    t = pipeline.table(d.directory, "targets")
    codes = set(t.loc[t["year"] == year, "region_code"]) & set(d.regions["code"])
    return sorted(codes)


def task_lag(d: _Data, cfg: TaskLag) -> list[Alert]:
    """Every task of the data date's year that is 滞后 or 严重滞后 at the data date's month (the 目标 page's
    judgement: metrics.goal_table with the configured 严重滞后 gap). Rate tasks have no 序时进度 and are left
    to the page; past years' tasks are over (their year-end status is on the page, not news)."""
    year, month = d.as_of.year, metrics.last_month(d.as_of, d.as_of.year)
    codes = _task_regions(d, year)
    if not codes:
        return []
    targets = {c: repo.targets(c, year, d.directory, d.area) for c in codes}
    ids = sorted({i for t in targets.values() for i in t["indicator_id"]})
    actuals = repo.series(ids, codes, dt.date(year, 1, 1), dt.date(year, month, 1), d.directory, d.area)
    kinds, frequency = d.ind["kind"].to_dict(), d.ind["frequency"].to_dict()
    owners = _owners(d, year, month)
    out = []
    for code, t in targets.items():
        t = t[t["indicator_id"].isin(d.ind.index) & (t["indicator_id"].map(kinds) != "rate")]
        g = metrics.goal_table(t, actuals[actuals["region_code"] == code], kinds, year, month, cfg.severe_gap / 100,
                               frequency)
        out += [replace(_lag_alert(d, code, r, year, month), owner=owners.get((r.indicator_id, code)))
                for r in g.itertuples() if r.status in ("滞后", "严重滞后")]
    return out


def _owners(d: _Data, year: int, month: int) -> dict[tuple[str, str], str]:
    """(indicator, region) → the 责任人 of the task's latest progress note up to `month` (notes.py), where it
    names one: whom delivery tells first."""
    n = notes.latest(notes.table(d.directory))
    n = n[(n["year"] == year) & (n["period"] <= dt.date(year, month, 1))].sort_values(["period", "seq"])
    n = n.drop_duplicates(["indicator_id", "region_code"], keep="last")
    return {(i, r): o for i, r, o in zip(n["indicator_id"], n["region_code"], n["owner"]) if isinstance(o, str) and o}


def _lag_alert(d: _Data, code: str, r, year: int, month: int) -> Alert:
    """One lagging task in the words of the 目标 page and the 专报."""
    behind = -metrics.gap_points(r.completion, r.elapsed)
    lag = f"（{fmt.lag_note(int(r.reported_to), month, d.ind.loc[r.indicator_id, 'frequency'])}）" \
        if pd.notna(r.reported_to) else ""
    kind = d.ind.loc[r.indicator_id, "kind"]
    pace = f"，每月还需完成{fmt.pace(r.pace, kind, int(d.ind.loc[r.indicator_id, 'decimals']))}" \
           f"{d.ind.loc[r.indicator_id, 'unit']}" if r.pace is not None and pd.notna(r.pace) and r.pace > 0 else ""
    text = (f"{d.name(code)} {r.task}：完成{d.amount(r.indicator_id, r.actual)}{lag}，"
            f"完成率{fmt.percent(r.completion)}，落后序时进度{behind:.1f}个百分点（{r.status}）{pace}")
    as_of = int(r.reported_to) if pd.notna(r.reported_to) else month
    return Alert(rule="task_lag", key=f"task_lag:{code}:{r.indicator_id}:{year}:{r.status}",
                 level="严重" if r.status == "严重滞后" else "关注", region_code=code, title=f"{r.task} {r.status}",
                 text=text, department=r.department, indicator_id=r.indicator_id, period=dt.date(year, as_of, 1))


# --- return_missing ---------------------------------------------------------------------------------

def return_missing(d: _Data, cfg: ReturnMissing) -> list[Alert]:
    """Every expected return not reported (未报, or 已退回 and not sent again) whose deadline has passed at
    `today` in China, as progress.cells counts it (待审核 counts as reported, as on the 报送进度 page)."""
    out = []
    since = _months_before(d.today, cfg.lookback_months)
    for form in forms.load(d.directory).values():
        periods = [p for p in form.periods(_start(since, form.frequency), d.today)
                   if since <= form.deadline(p) < d.today]
        if not periods:
            continue
        cells = progress.cells(d.directory, form, periods, d.area, d.today)
        due = cells[~cells["reported"] & (cells["days_late"] > 0)]
        out += [_missing_alert(d, form, r, cfg) for r in due.itertuples(index=False)]
    return out


def _months_before(day: dt.date, months: int) -> dt.date:
    """A day `months` before `day` (on the 28th at most, so every month has it): the lookback's start."""
    n = day.year * 12 + day.month - 1 - months
    return dt.date(n // 12, n % 12 + 1, min(day.day, 28))


def _missing_alert(d: _Data, form: forms.Form, r, cfg: ReturnMissing) -> Alert:
    """One overdue return as the 催报 list says it: region, period, form, deadline and days late."""
    severe = r.days_late > cfg.severe_after_days
    what = "已退回，尚未重新上报" if r.cell == progress.RETURNED else "未报"
    period = forms.period_label(r.period, form.frequency)
    text = (f"{d.name(r.region_code)} {period}“{form.name}”{what}：截止日期{fmt.date_label(r.deadline)}，"
            f"已逾期{int(r.days_late)}天")
    return Alert(rule="return_missing",
                 key=f"return_missing:{form.id}:{r.region_code}:{r.period:%Y-%m}" + (":严重" if severe else ""),
                 level="严重" if severe else "关注", region_code=r.region_code, title=f"{form.name} {period} {what[:3]}",
                 text=text, department=form.department or None, period=r.period)


# --- outlier ----------------------------------------------------------------------------------------

def outlier(d: _Data, cfg: Outlier) -> list[Alert]:
    """The latest value of each indicator (not standards: a policy level moves by decision) and region out of
    line with the same period in earlier years — the same month (a year-to-date figure against the same
    month's year-to-date), quarter or year: by its 同比 (basis "yoy", the default) or by its level ("level")."""
    return (_by_yoy if cfg.basis == "yoy" else _by_level)(d, cfg)


def _by_yoy(d: _Data, cfg: Outlier) -> list[Alert]:
    """basis "yoy": the latest figure whose 同比 — its change from the same period a year before, in % for a
    quantity, in points for a rate (metrics.change) — lies outside the robust range of that period's 同比 in
    earlier years. A figure that grows steadily grows by about as much every year and is not flagged for
    being above every earlier year; a break in its growth is, even inside the earlier years' range. Needs last
    year's figure and `min_years` earlier 同比."""
    out = []
    keys = ["indicator_id", "region_code"]
    for period, ids in _by_period(d, ("count", "amount", "rate")).items():
        since = min(d.first[i] for i in ids)
        years = [p for p in (_years_back(period, y) for y in range(cfg.max_years + 1, -1, -1)) if p >= since]
        if len(years) < 2:
            continue
        got = pd.concat([_usable(d.values(ids, p)) for p in years], ignore_index=True)
        if got.empty:
            continue
        wide = got.pivot_table(index=keys, columns="period", values="value", aggfunc="first")
        wide = wide.reindex(columns=years).astype(float)
        v = wide.to_numpy()
        rate = wide.index.get_level_values(0).map(d.ind["kind"]).to_numpy() == "rate"
        prev, cur = v[:, :-1], v[:, 1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.where(rate[:, None], cur - prev, np.where(prev != 0, 100 * (cur - prev) / np.abs(prev), np.nan))
        hist, now = change[:, :-1], change[:, -1]
        n = np.sum(~np.isnan(hist), axis=1)
        judged = (n >= cfg.min_years) & ~np.isnan(now)
        if not judged.any():
            continue
        hist, now, rate, n = hist[judged], now[judged], rate[judged], n[judged]
        med = np.nanmedian(hist, axis=1)
        mad = np.nanmedian(np.abs(hist - med[:, None]), axis=1)
        seen = ~np.isnan(hist)
        first = np.argmax(seen, axis=1) + 1           # column of `years` whose 同比 is the earliest one used
        last = hist.shape[1] - np.argmax(seen[:, ::-1], axis=1)
        base, value = v[judged, -2], v[judged, -1]
        for i, (iid, code) in enumerate(wide.index[judged]):
            alert = _yoy_alert(d, cfg, _Judged(iid, code, period, value[i], base[i], now[i], med[i], mad[i],
                                                   int(n[i]), years[first[i]].year, years[last[i]].year, bool(rate[i])))
            if alert:
                out.append(alert)
    return out


def _by_level(d: _Data, cfg: Outlier) -> list[Alert]:
    """basis "level": the latest value outside the robust range of the same period's values in earlier years
    (a rate as a rate). Needs `min_years` earlier values."""
    out = []
    for period, ids in _by_period(d, ("count", "amount", "rate")).items():
        since = min(d.first[i] for i in ids)
        years = [_years_back(period, y) for y in range(1, cfg.max_years + 1) if _years_back(period, y) >= since]
        past = [_usable(d.values(ids, p)) for p in years]
        if not past:
            continue
        keys = ["indicator_id", "region_code"]
        past = pd.concat(past, ignore_index=True)[[*keys, "period", "value"]]
        past["value"] = past["value"].astype(float)
        by = past.groupby(keys)["value"]
        stats = pd.DataFrame({"n": by.size(), "median": by.median()})
        dev = (past["value"] - past.set_index(keys).index.map(stats["median"])).abs()
        stats["mad"] = dev.groupby([past["indicator_id"], past["region_code"]]).median()
        stats["first"] = past.groupby(keys)["period"].min()
        stats["last"] = past.groupby(keys)["period"].max()
        now = _usable(d.values(ids, period)).join(stats, on=keys, how="inner")
        for r in now[now["n"] >= cfg.min_years].itertuples(index=False):
            alert = _level_alert(d, r, cfg)
            if alert:
                out.append(alert)
    return out


def _folded(d: _Data, found: list[Alert]) -> list[Alert]:
    """Alerts of regions whose parent has the same one (indicator, period, side) told once, at the parent, with
    how many regions below it are alike: a whole city's figure moving with every county is one thing to check,
    not a dozen (evaluate(fold=True)). A parent outside the area evaluated is not there, so its regions keep
    their own."""
    side = {(a.indicator_id, a.region_code, a.period): a.key.rsplit(":", 1)[1] for a in found}
    alike: dict[tuple, int] = {}
    kept = []
    for a in found:
        up = d.tree.parent.get(a.region_code)
        if up is not None and side.get((a.indicator_id, up, a.period)) == side[(a.indicator_id, a.region_code, a.period)]:
            alike[(a.indicator_id, up, a.period)] = alike.get((a.indicator_id, up, a.period), 0) + 1
        else:
            kept.append(a)
    out = []
    for a in kept:
        n = alike.get((a.indicator_id, a.region_code, a.period))
        if n:
            word = "偏高" if a.key.endswith(":high") else "偏低"
            a = replace(a, text=a.text.removesuffix("，请核实") + f"；其下{n}个区划同样{word}，不再逐一提示，请核实")
        out.append(a)
    return out


def _inward(x: float, decimals: int, up: int) -> float:
    """A bound rounded towards the inside of the range (up for the low one), so every figure written inside
    the range as shown is inside it: 82.5 to 117.5 reads 83 to 117, not 82 (below 82.5, out) to 118."""
    step = 10 ** decimals
    return (math.ceil(round(x * step, 9)) if up > 0 else math.floor(round(x * step, 9))) / step


def _level_alert(d: _Data, r, cfg: Outlier) -> Alert | None:
    """The alert for one value against its history's statistics (n, median, mad, first, last), or None."""
    dec = int(d.ind.loc[r.indicator_id, "decimals"])
    spread = max(MAD_SCALE * r.mad, cfg.floor_pct / 100 * abs(r.median), 10.0 ** -dec)
    low, high = max(r.median - cfg.k * spread, 0.0), r.median + cfg.k * spread  # these kinds are never negative
    if low <= r.value <= high:
        return None
    side = "high" if r.value > high else "low"
    freq = d.ind.loc[r.indicator_id, "frequency"]
    name = d.ind.loc[r.indicator_id, "name_zh"]
    text = (f"{d.name(r.region_code)} {name}{fmt.period_label(r.period, freq)}为{d.amount(r.indicator_id, r.value)}，"
            f"{'高于' if side == 'high' else '低于'}往年同期的正常范围"
            f"（{r.first.year}—{r.last.year}年同期{int(r.n)}个数值的中位数{d.amount(r.indicator_id, r.median)}，"
            f"正常范围{d.amount(r.indicator_id, _inward(low, dec, 1))}至{d.amount(r.indicator_id, _inward(high, dec, -1))}）"
            "，请核实")
    return _outlier(r.region_code, r.indicator_id, r.period, side, name, text)


def _outlier(region: str, indicator: str, period: dt.date, side: str, name: str, text: str) -> Alert:
    """A 数值异常 alert: its key names the side (high, low), never the figure."""
    return Alert(rule="outlier", key=f"outlier:{region}:{indicator}:{period:%Y-%m}:{side}", level="关注",
                 region_code=region, title=f"{name} 数值{'偏高' if side == 'high' else '偏低'}", text=text,
                 indicator_id=indicator, period=period)


@dataclass(frozen=True)
class _Judged:
    """One latest figure against its history: last year's figure, its 同比 and the earlier 同比's statistics."""
    indicator_id: str
    region_code: str
    period: dt.date
    value: float
    base: float       # the same period a year before
    change: float     # the 同比: % (quantities) or points (rates)
    median: float     # of the earlier 同比
    mad: float
    n: int
    first: int        # the years of the earlier 同比 (each against the year before it)
    last: int
    rate: bool


def _yoy_alert(d: _Data, cfg: Outlier, r: _Judged) -> Alert | None:
    """The alert for one figure whose 同比 is outside the earlier 同比's median ± k × the robust spread, or None.
    The spread is 1.4826 × MAD, at least `floor_pct` (% for a quantity; % of last year's level, in points, for
    a rate) and at least one unit of the shown precision; the range is told as figures, from last year's."""
    dec = int(d.ind.loc[r.indicator_id, "decimals"])
    unit = 10.0 ** -dec if r.rate else (100 * 10.0 ** -dec / abs(r.base) if r.base else 0.0)
    floor = cfg.floor_pct / 100 * abs(r.base) if r.rate else cfg.floor_pct
    spread = max(MAD_SCALE * r.mad, floor, unit)
    lo_c, hi_c = r.median - cfg.k * spread, r.median + cfg.k * spread
    if lo_c <= r.change <= hi_c:
        return None

    def figure(c: float) -> float:  # the figure a 同比 of c gives from last year's; these kinds are never negative
        return max(r.base + c if r.rate else r.base * (1 + c / 100), 0.0)

    side = "high" if r.change > hi_c else "low"
    freq = d.ind.loc[r.indicator_id, "frequency"]
    name = d.ind.loc[r.indicator_id, "name_zh"]
    moved = metrics.Change(r.change, "个百分点" if r.rate else "%").signed().replace(" ", "")
    usual = metrics.Change(r.median, "个百分点" if r.rate else "%").signed().replace(" ", "")
    text = (f"{d.name(r.region_code)} {name}{fmt.period_label(r.period, freq)}为{d.amount(r.indicator_id, r.value)}，"
            f"同比{moved}（上年同期{d.amount(r.indicator_id, r.base)}），"
            f"{'高于' if side == 'high' else '低于'}按往年同比推算的正常范围"
            f"（{r.first}—{r.last}年{r.n}个同比的中位数{usual}，"
            f"正常范围{d.amount(r.indicator_id, _inward(figure(lo_c), dec, 1))}至"
            f"{d.amount(r.indicator_id, _inward(figure(hi_c), dec, -1))}），请核实")
    return _outlier(r.region_code, r.indicator_id, r.period, side, name, text)


# --- children_sum -----------------------------------------------------------------------------------

def children_sum(d: _Data, cfg: ChildrenSum) -> list[Alert]:
    """A region's own figure (count/amount: additive) at the latest period against the sum of its direct
    children's figures (each its own or a complete roll-up), where every child valid in the period has one.
    The tolerance is `tolerance_pct` of the larger side plus half a unit of the shown precision per figure."""
    out = []
    for period, ids in _by_period(d, ("count", "amount")).items():
        df = d.values(ids, period)
        u = _usable(df)
        usable = dict(zip(zip(u["indicator_id"], u["region_code"]), u["value"]))
        own = df[df["value"].notna() & ~df["derived"].astype(bool)]
        for r in own.itertuples(index=False):
            kids = _valid_kids(d, r.region_code, period, d.ind.loc[r.indicator_id, "frequency"])
            got = [usable.get((r.indicator_id, k)) for k in kids]
            if not kids or any(v is None for v in got):
                continue
            alert = _sum_alert(d, r, kids, float(sum(got)), cfg)
            if alert:
                out.append(alert)
    return out


def _valid_kids(d: _Data, code: str, period: dt.date, frequency: str) -> list[str]:
    """The direct children whose code is valid on the period's last day (lineage.py's rule)."""
    end = lineage.period_end(period, frequency)
    return [k for k in d.tree.kids(code) if lineage.valid_on(*d.validity[k], end)]


def _sum_alert(d: _Data, r, kids: list[str], total: float, cfg: ChildrenSum) -> Alert | None:
    """The alert for an own figure against its children's total, or None within the tolerance."""
    dec = int(d.ind.loc[r.indicator_id, "decimals"])
    allowed = cfg.tolerance_pct / 100 * max(abs(r.value), abs(total)) + (len(kids) + 1) * 0.5 * 10.0 ** -dec
    diff = r.value - total
    if abs(diff) <= allowed:
        return None
    name = d.ind.loc[r.indicator_id, "name_zh"]
    freq = d.ind.loc[r.indicator_id, "frequency"]
    share = f"（{100 * abs(diff) / abs(total):.1f}%）" if total else ""
    level = d.tree.levels.get(kids[0])
    word = (vocab.LEVELS[level].plural or vocab.LEVELS[level].form) if level in vocab.LEVELS else "区划"
    text = (f"{d.name(r.region_code)} {name}{fmt.period_label(r.period, freq)}本级填报{d.amount(r.indicator_id, r.value)}，"
            f"下级{len(kids)}个{word}合计{d.amount(r.indicator_id, total)}，"
            f"{'多' if diff > 0 else '少'}{d.amount(r.indicator_id, abs(diff))}{share}，请核实")
    return Alert(rule="children_sum", key=f"children_sum:{r.region_code}:{r.indicator_id}:{r.period:%Y-%m}",
                 level="关注", region_code=r.region_code, title=f"{name} 与下级合计不符", text=text,
                 indicator_id=r.indicator_id, period=r.period)


# --- configured thresholds -----------------------------------------------------------------------------

def threshold(d: _Data, rule: Threshold) -> list[Alert]:
    """The rule's indicator at its latest period in every region of the rule's level: its value against the
    threshold (in the indicator's unit), or its 同比 (metrics.change: % for quantities, 个百分点 for rates)."""
    period = d.last.get(rule.indicator)
    if period is None:
        return []
    at_level = set(d.regions.loc[d.regions["level"] == rule.level, "code"])
    now = _usable(d.values((rule.indicator,), period))
    now = now[now["region_code"].isin(at_level)]
    base = {}
    if rule.op.startswith("yoy"):
        ago = _usable(d.values((rule.indicator,), _years_back(period, 1)))
        base = dict(zip(ago["region_code"], ago["value"]))
    out = []
    for r in now.itertuples(index=False):
        hit = _crosses(rule, d.ind.loc[rule.indicator, "kind"], r.value, base.get(r.region_code))
        if hit is not None:
            out.append(_threshold_alert(d, rule, r, hit))
    return out


def _crosses(rule: Threshold, kind: str, value: float, base) -> str | None:
    """What the figure did that the rule is about (a phrase with the figures), or None."""
    if rule.op in (">", ">=", "<", "<="):
        fired = {">": value > rule.threshold, ">=": value >= rule.threshold, "<": value < rule.threshold,
                 "<=": value <= rule.threshold}[rule.op]
        return "" if fired else None
    c = metrics.change(kind, value, base)
    if c is None:
        return None
    moved = -c.value if rule.op == "yoy_drop_pct" else c.value
    return f"{abs(c.value):.1f}{c.unit if c.unit == '%' else '个百分点'}" if moved > rule.threshold else None


def _threshold_alert(d: _Data, rule: Threshold, r, moved: str) -> Alert:
    """One configured rule's finding, with the figure, what it crossed and the rule's name."""
    name = d.ind.loc[rule.indicator, "name_zh"]
    unit = d.ind.loc[rule.indicator, "unit"]
    freq = d.ind.loc[rule.indicator, "frequency"]
    said = f"{d.name(r.region_code)} {name}{fmt.period_label(r.period, freq)}为{d.amount(rule.indicator, r.value)}"
    if rule.op.startswith("yoy"):
        limit = f"{rule.threshold:g}{'个百分点' if d.ind.loc[rule.indicator, 'kind'] == 'rate' else '%'}"
        said += f"，{OPS[rule.op]}{moved}，超过{limit}"
    else:
        said += f"，{OPS[rule.op]}{d.amount(rule.indicator, rule.threshold) if unit else f'{rule.threshold:g}'}"
    return Alert(rule=f"rule:{rule.id}", key=f"rule:{rule.id}:{r.region_code}:{r.period:%Y-%m}", level=rule.severity,
                 region_code=r.region_code, title=f"{rule.name}", text=f"{said}（规则“{rule.name}”）",
                 indicator_id=rule.indicator, period=r.period)


# --- all of them ----------------------------------------------------------------------------------

def evaluate(directory: Path, today: dt.date, *, area: str | None = None, rules: Rules | None = None,
             fold: bool = False) -> list[Alert]:
    """Every rule on the current data version, limited to `area` (a 12-digit code; one not in the data gives
    nothing), worst first, then by region and key — the same list for the same data and day.

    `fold`: a 数值异常 that a region's parent has too (same indicator, period and side) is told at the parent
    only, which names how many regions below it are alike — for one reader of the whole area (消息中心's
    list, the command's table). Delivery reads them unfolded: a county's reviewer, whose area does not hold the
    city, must still be told of the county's own."""
    rules = load_rules(directory) if rules is None else rules
    d = _context(Path(directory), today, area)
    if d is None:
        return []
    out: list[Alert] = []
    if rules.task_lag.enabled:
        out += task_lag(d, rules.task_lag)
    if rules.return_missing.enabled:
        out += return_missing(d, rules.return_missing)
    if rules.outlier.enabled:
        out += outlier(d, rules.outlier)
    if rules.children_sum.enabled:
        out += children_sum(d, rules.children_sum)
    for rule in rules.thresholds:
        if rule.enabled and rule.indicator in d.ind.index:
            out += threshold(d, rule)
    if area is not None:  # every rule reads within the area already; this is the last word, not the first
        out = [a for a in out if area in d.tree.path(a.region_code)]
    if fold:
        out = [a for a in out if a.rule != "outlier"] + _folded(d, [a for a in out if a.rule == "outlier"])
    unique = {a.key: a for a in out}
    return sorted(unique.values(), key=lambda a: (LEVELS.index(a.level), a.region_code, a.key))
