"""预警 on the command line: `python -m minsheng alerts [--area CODE] [--date YYYY-MM-DD] [--json] [--check-rules F]`.

A read: it evaluates the rules on the current data version and prints what they find (a table, or JSON for
a script); nothing is written, sent or audited. Delivery (消息中心, robots, mail) reads the same `Alert`s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path

from minsheng import alerts, auth, cycle, fmt, repo, store
from minsheng.ingest import cells, pipeline
from minsheng.regions import Tree

RULE_ZH = {"task_lag": "任务滞后", "return_missing": "报表未报", "outlier": "数值异常", "children_sum": "上下级不符"}


def _day(text: str | None) -> dt.date:
    """--date as a day, or today in China (deadlines are China's days, whatever the server's zone)."""
    if not text:
        return cycle.clock().date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise alerts.RulesError(f"日期“{cells.shown(text)}”应写成 YYYY-MM-DD，例如 2026-11-06") from None


def _area(text: str | None, directory: Path) -> str | None:
    """--area as a 12-digit code of the region table (6 or 9 digits are filled out), or a Chinese refusal."""
    if not text:
        return None
    code = auth.normalise_area(text)
    if code is None or code not in Tree(pipeline.table(directory, "regions")):
        raise alerts.RulesError(f"区划代码“{cells.shown(text)}”不在区划表中")
    return code


def _table(found: list[alerts.Alert], directory: Path) -> str:
    """The alerts as aligned lines for a terminal, worst first (as evaluate sorts them)."""
    if not found:
        return "没有预警"
    names = Tree(pipeline.table(directory, "regions")).names
    rows = [("级别", "规则", "区划", "时期", "内容")]
    rows += [(a.level, RULE_ZH.get(a.rule, a.rule.removeprefix("rule:")), names.get(a.region_code, a.region_code),
              f"{a.period:%Y-%m}" if a.period else "—", cells.shown(a.text)) for a in found]
    return fmt.text_table(rows) + f"\n共 {len(found)} 条（严重 {sum(a.level == '严重' for a in found)} 条）"


def _as_json(found: list[alerts.Alert]) -> str:
    """The alerts as delivery and scripts read them: every field of Alert, the period as YYYY-MM-DD."""
    return json.dumps([dataclasses.asdict(a) | {"period": a.period.isoformat() if a.period else None}
                       for a in found], ensure_ascii=False, indent=1)


def _alerts(args) -> int:
    """`alerts`: print the findings (or check a settings file); 2 with a Chinese reason when refused."""
    directory = store.data_dir()
    try:
        if args.check_rules:
            rules = alerts.check_rules_file(Path(args.check_rules), repo.indicators(directory)["id"].tolist())
            print(f"预警规则文件 {Path(args.check_rules).name} 写法正确：自定义规则 {len(rules.thresholds)} 条")
            return 0
        found = alerts.evaluate(directory, _day(args.date), area=_area(args.area, directory), fold=not args.json)
    except (alerts.RulesError, store.StoreError) as e:
        print(f"未执行：{e}", file=sys.stderr)
        return 2
    print(_as_json(found) if args.json else _table(found, directory))
    return 0


def add_parsers(sub) -> None:
    """Hook `alerts` into python -m minsheng (cli.main)."""
    p = sub.add_parser("alerts", help="预警：任务滞后、报表逾期未报、数值异常、上下级不符及自定义规则（只读）")
    p.add_argument("--area", help="只看该区划及其下级（区划代码）")
    p.add_argument("--date", help="按这一天判断（YYYY-MM-DD，默认今天，北京时间）")
    p.add_argument("--json", action="store_true", help="以 JSON 输出（供脚本读取）")
    p.add_argument("--check-rules", metavar="FILE", help="只检查一个预警规则文件的写法，不计算预警")
    p.set_defaults(func=_alerts)
