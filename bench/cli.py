"""The `bench` command of `python -m minsheng`, which reaches it through `add_parsers`."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bench import imports, sessions
from bench.plan import EXPORT_ROWS
from bench.report import render
from bench.run import describe, run
from minsheng import synth


def _bench(args) -> int:
    """Run what the flags ask, print the report, write it with --json; 1 on a disagreement or any error."""
    tmp = None
    if args.data:
        directory = Path(args.data)
    elif args.smoke:  # a tiny dataset of its own
        tmp = tempfile.TemporaryDirectory(prefix="minsheng-smoke-")
        directory = Path(tmp.name)
        synth.build(directory, 20_000, scale="small")
    else:
        print("请用 --data 指定数据目录（或 --smoke）", file=sys.stderr)
        return 2
    try:
        if args.only_sessions or args.only_imports:
            report = {"data": describe(directory)}
        else:
            report = run(directory, repeat=2 if args.smoke else args.repeat, pages=not args.no_pages,
                         export_rows=20_000 if args.smoke else EXPORT_ROWS, engine=args.engine)
        if args.sessions or args.only_sessions:
            duration = args.duration or (sessions.SMOKE_DURATION if args.smoke else sessions.SESSION_DURATION)
            if args.replicas:  # 1 and N replicas behind nginx, one after the other in this run
                report["replicas"] = sessions.run_replicas(directory, args.sessions or 20, duration,
                                                           counts=tuple(sorted({1, args.replicas})))
            else:
                report["sessions"] = sessions.run(directory, args.sessions or 20, duration,
                                                  alone_rounds=1 if args.smoke else sessions.ALONE_ROUNDS)
        if args.imports or args.only_imports:
            report["imports"] = imports.run(directory, rows=1_000 if args.smoke else imports.ROWS)
    finally:
        if tmp:
            tmp.cleanup()
    print(render(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    failed = any(r["agree"] is False or r.get("ch_agree") is False for r in report.get("queries", [])) \
        or report.get("page_errors")
    errors = report.get("sessions", {}).get("errors") or any(r["errors"] for r in report.get("replicas", []))
    return 1 if failed or errors else 0


def add_parsers(sub) -> None:
    p = sub.add_parser("bench", help="按页面查询计时，并与 pandas 基线对比")
    p.add_argument("--data", help="数据目录（如 synth 生成的目录）")
    p.add_argument("--json", help="把结果写入 JSON 文件")
    p.add_argument("--repeat", type=int, default=5, help="热查询重复次数（默认 5）")
    p.add_argument("--smoke", action="store_true", help="快速冒烟：重复 2 次；无 --data 时自建小数据集")
    p.add_argument("--no-pages", action="store_true", help="不运行 AppTest 页面计时")
    p.add_argument("--engine", choices=["duckdb", "both"], default="duckdb",
                   help="both：同样的查询再在 ClickHouse 上计时（MINSHENG_CLICKHOUSE_URL，否则临时 chDB），并排报告")
    p.add_argument("--sessions", type=int, default=0, metavar="N",
                   help="另起真实 streamlit 服务，N 个会话同时轮流访问各页面（如 20）")
    p.add_argument("--duration", type=float, help=f"并发会话持续秒数（默认 {sessions.SESSION_DURATION:.0f}；"
                                                  f"--smoke 时 {sessions.SMOKE_DURATION:.0f}）")
    p.add_argument("--only-sessions", action="store_true", help="只跑并发会话，不做查询与 pandas 对比")
    p.add_argument("--replicas", type=int, default=0, metavar="N",
                   help="并发会话经 nginx 先后访问 1 个和 N 个副本（需要 nginx），报告每秒页面运行次数")
    p.add_argument("--imports", action="store_true",
                   help="另测导入：一个月的报表（约 1 万行）两次导入与合并增量，在数据目录的硬链接副本上")
    p.add_argument("--only-imports", action="store_true", help="只测导入")
    p.set_defaults(func=_bench)
