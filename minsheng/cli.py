"""Command line: `python -m minsheng init|demo|export|import|history|rollback|compact|prune|check|publish|users|serve|alerts …`."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from minsheng import audit, fmt, store

# argparse's own refusals, in Chinese: a clerk who mistypes a command reads what is wrong in their language
_ARGPARSE_ZH = (
    (re.compile(r"the following arguments are required: (.+)"), "缺少必填参数：{0}"),
    (re.compile(r"unrecognized arguments: (.+)"), "无法识别的参数：{0}"),
    (re.compile(r"argument (\S+): invalid choice: (.+?) \(choose from (.+)\)"), "参数 {0} 的值 {1} 无效，可选：{2}"),
    (re.compile(r"argument (\S+): expected one argument"), "参数 {0} 后面须给出一个值"),
    (re.compile(r"argument (\S+): expected at least one argument"), "参数 {0} 后面须至少给出一个值"),
    (re.compile(r"argument (\S+): invalid (\w+) value: (.+)"), "参数 {0} 的值 {2} 不是有效的数字"),
    (re.compile(r"argument (\S+): not allowed with argument (\S+)"), "参数 {0} 不能与 {1} 同时使用"),
    (re.compile(r"one of the arguments (.+) is required"), "须给出以下参数之一：{0}"),
    (re.compile(r"argument (\S+): ignored explicit argument (.+)"), "参数 {0} 不接受值 {1}"),
    (re.compile(r"ambiguous option: (\S+) could match (.+)"), "参数 {0} 有歧义，可能是：{1}"),
)


class ChineseParser(argparse.ArgumentParser):
    """An ArgumentParser whose refusals are Chinese (exit code 2, the usage line, no traceback); subcommands
    inherit it (add_subparsers makes parsers of the parent's class)."""

    def error(self, message: str):
        for pattern, zh in _ARGPARSE_ZH:
            if m := pattern.fullmatch(message):
                message = zh.format(*m.groups())
                break
        usage = self.format_usage().strip().removeprefix("usage:").strip()
        self.exit(2, f"用法：{usage}\n参数错误：{message}。可加 -h 查看说明\n")


def _demo(args) -> int:
    from minsheng import demo

    y, m = (int(x) for x in args.as_of.split("-"))
    out = Path(args.out) if args.out else store.data_dir()
    if (out / ".versions").exists() and store.current(out) != store.BASE:
        print(f"注意：{out} 已有导入版本（当前 {store.current(out)}）。演示数据只重写基础版本，"
              f"页面仍显示当前版本；如需使用演示数据，请执行 python -m minsheng rollback base", file=sys.stderr)
    counts = demo.build(out, (y, m))
    print("演示数据已生成：" + "，".join(f"{k} {v} 行" for k, v in counts.items()))
    return 0


def _init(args) -> int:
    from minsheng import changes
    from minsheng.ingest import start

    out = Path(args.dir) if args.dir else store.data_dir()
    try:
        changes.init(out, actor=audit.os_user(), source="cli")
    except (store.StoreError, audit.AuditError) as e:
        print(f"创建失败：{e}", file=sys.stderr)
        return 2
    steps = "；".join(f"{i}. {start.label(k)}（{start.template_hint(k)}）" for i, k in enumerate(start.ORDER, 1))
    print(f"已创建空数据目录 {out}。设置 MINSHENG_DATA={out} 后按顺序导入：{steps}")
    return 0


def _warn_if_fallback() -> str | None:
    """Say on stderr when the data read is not the current version (it is damaged: store.reading)."""
    try:
        problem = store.reading(store.data_dir()).problem
    except store.StoreError as e:
        problem = str(e)
    if problem:
        print(f"注意：{problem}", file=sys.stderr)
    return problem


def _export(args) -> int:
    from minsheng import export

    _warn_if_fallback()
    ids = [i for part in args.indicator for i in part.split(",") if i]
    try:
        sel = export.check(ids, args.region, args.level,
                           export.parse_period(args.date_from) if args.date_from else None,
                           export.parse_period(args.date_to, end=True) if args.date_to else None)
        n = export.write(sel, Path(args.out), encoding=args.encoding)
    except export.ExportError as e:
        print(f"导出失败：{e}", file=sys.stderr)
        return 2
    audit.record("export", audit.os_user(), sel.audit(format=Path(args.out).suffix.lstrip(".").lower(), rows=n,
                                                      file=Path(args.out).name), "cli")
    print(f"已导出 {n} 行到 {args.out}")
    return 0


def _history(args) -> int:
    from minsheng import changes

    _warn_if_fallback()
    try:
        recs = store.history(store.data_dir())
    except store.StoreError as e:
        print(f"读取版本记录失败：{e}", file=sys.stderr)
        return 2
    table = changes.history_table(recs).drop(columns="说明")  # the 操作 column names the version rolled back to
    print(fmt.text_table([tuple(table.columns), *table.itertuples(index=False)]))
    return 0


def _rollback(args) -> int:
    from minsheng import changes

    # the account running it is the actor; --user is what the history shows, recorded beside it
    return changes.for_command(
        lambda: changes.rollback(args.version, actor=audit.os_user(), source="cli", user=args.user,
                                 lock_timeout=args.timeout, **({"as": args.user} if args.user else {})),
        done=f"已回滚到 {args.version}，新版本 {{version}}", failed="回滚失败：{error}")


def _compact(args) -> int:
    from minsheng import changes

    try:
        made = changes.compact(actor=audit.os_user(), source="cli", lock_timeout=args.timeout)
    except store.StoreError as e:
        print(f"合并失败：{e}", file=sys.stderr)
        return 2
    print(f"已把增量合并进基础文件，新版本 {made}（数据不变）" if made else "当前版本没有增量文件，无需合并")
    return 0


def _prune(args) -> int:
    try:
        gone = store.prune(store.data_dir(), args.keep, lock_timeout=args.timeout)
    except store.StoreError as e:
        print(f"清理失败：{e}", file=sys.stderr)
        return 2
    print(f"已删除 {len(gone)} 个旧版本" + (f"：{'、'.join(gone)}" if gone else ""))
    return 0


_STATES = {"whole": "完好", "damaged": "损坏", "unverified": "未校验（无校验和，且未能记录）",
           "recorded": "未校验（无校验和），已按现有内容记录"}


def _check(args) -> int:
    """Every version checked in full: 0 when all are whole, 1 when any is damaged or CURRENT is torn."""
    directory = store.data_dir()
    try:
        report = store.verify(directory)
    except store.StoreError as e:
        print(f"核查失败：{e}", file=sys.stderr)
        return 2
    rows = [("版本", "状态", "问题", "当前")]
    rows += [(r["id"], _STATES[r["state"]], "；".join(r["problems"].values()) or "—", "●" if r["current"] else "")
             for r in report]
    print(fmt.text_table(rows))
    problem = _warn_if_fallback()
    damaged = [r["id"] for r in report if r["state"] == "damaged"]
    if damaged:
        print(f"发现 {len(damaged)} 个损坏的版本：{'、'.join(damaged)}。不要回退到这些版本；"
              "可用 python -m minsheng rollback <完好的版本> 恢复", file=sys.stderr)
    return 1 if damaged or problem else 0


def _publish(args) -> int:
    """Load the version readers see into ClickHouse and switch its readers to it (minsheng/clickhouse.py)."""
    from minsheng import clickhouse

    _warn_if_fallback()
    where = args.url or ("chdb:" + str(Path(args.path).resolve()) if args.path else None)
    try:
        name = clickhouse.publish(store.data_dir(), where, keep=args.keep)
    except (clickhouse.EngineError, store.StoreError) as e:
        print(f"发布失败：{e}", file=sys.stderr)
        return 2
    print(f"已发布到 ClickHouse 数据库 {name}（保留最近 {args.keep} 个）")
    return 0


def main(argv: list[str] | None = None) -> int:
    from minsheng import export  # --encoding offers what the 数据 page offers (export.ENCODINGS)

    parser = ChineseParser(prog="python -m minsheng", description="民生指标看板命令行工具")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="重新生成内置演示数据")
    p.add_argument("--out", help="输出目录（默认 data/ 或 MINSHENG_DATA）")
    p.add_argument("--as-of", default="2026-10", help="最后一个有数据的月份，YYYY-MM（默认 2026-10）")
    p.set_defaults(func=_demo)
    p = sub.add_parser("init", help="创建一个空的数据目录（之后依次导入区划、指标、数据）")
    p.add_argument("dir", nargs="?", help="新目录或空目录（默认 MINSHENG_DATA）")
    p.set_defaults(func=_init)
    p = sub.add_parser("export", help="按条件导出数据（与“数据”页下载的文件相同）")
    p.add_argument("--indicator", action="append", required=True, help="指标编码，可重复或用逗号分隔")
    p.add_argument("--region", help="区划代码（默认最上级区划）")
    p.add_argument("--level", choices=["city", "county", "township", "village"], help="导出该区域下此级别的各区划；不填则为区域本级")
    p.add_argument("--from", dest="date_from", help="起始时期：2023 或 2023-06")
    p.add_argument("--to", dest="date_to", help="结束时期：2024 或 2024-06")
    p.add_argument("--encoding", default="utf-8-sig", choices=export.ENCODINGS,
                   help="CSV 编码（默认带 BOM 的 UTF-8）")
    p.add_argument("--out", required=True, help="输出文件 .csv 或 .xlsx")
    p.set_defaults(func=_export)
    p = sub.add_parser("history", help="列出数据版本（最新在前）")
    p.set_defaults(func=_history)
    p = sub.add_parser("rollback", help="回滚到某个版本（生成一个新版本，可再次撤销）")
    p.add_argument("version", help="版本号（见 history），或 base 表示初始数据")
    p.add_argument("--user", help="操作人（记入历史）")
    p.add_argument("--timeout", type=float, default=30, help="等待其他提交完成的秒数（默认 30）")
    p.set_defaults(func=_rollback)
    p = sub.add_parser("prune", help="删除旧版本，只保留最新 N 个（当前版本及其上一版本始终保留）")
    p.add_argument("--keep", type=int, required=True, help="保留的版本数")
    p.add_argument("--timeout", type=float, default=30, help="等待其他提交完成的秒数（默认 30）")
    p.set_defaults(func=_prune)
    p = sub.add_parser("compact", help="把导入累积的增量文件合并进基础文件（生成数据相同的新版本）")
    p.add_argument("--timeout", type=float, default=30, help="等待其他提交完成的秒数（默认 30）")
    p.set_defaults(func=_compact)
    p = sub.add_parser("check", help="逐个版本核对文件校验和（发现损坏的版本及共用同一文件的版本）")
    p.set_defaults(func=_check)
    p = sub.add_parser("publish", help="把当前数据版本载入第二个引擎（ClickHouse），读者整体切换到新版本")
    p.add_argument("--engine", required=True, choices=["clickhouse"], help="目标引擎")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", help="ClickHouse 服务器地址（默认 MINSHENG_CLICKHOUSE_URL）")
    where.add_argument("--path", help="chDB 目录（嵌入式 ClickHouse，默认 MINSHENG_CLICKHOUSE_PATH）")
    p.add_argument("--keep", type=int, default=2, help="保留的已发布版本数（默认 2）")
    p.set_defaults(func=_publish)
    from bench.cli import add_parsers as bench_parsers  # the benchmark: an application beside the package
    from minsheng import alerts_commands, auth_commands, brief_commands, cycle_commands, notify_commands, replicas, synth
    from minsheng.ingest import commands

    commands.add_parsers(sub)  # import, template
    synth.add_parsers(sub)
    bench_parsers(sub)
    replicas.add_parsers(sub)  # serve: several app processes behind nginx
    auth_commands.add_parsers(sub)  # users add|set-role|set-area|passwd|disable|enable|list
    cycle_commands.add_parsers(sub)  # forms, submissions, submit, approve, return, progress
    brief_commands.add_parsers(sub)  # brief, note, notes
    alerts_commands.add_parsers(sub)  # alerts: the 预警 rules' findings (a read)
    notify_commands.add_parsers(sub)  # schedule run|status|check, outbox flush|retry
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
