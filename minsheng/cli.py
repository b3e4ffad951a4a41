"""Command line: `python -m minsheng demo|export …`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minsheng import store


def _demo(args) -> int:
    from minsheng import demo

    y, m = (int(x) for x in args.as_of.split("-"))
    counts = demo.build(Path(args.out) if args.out else store.data_dir(), (y, m))
    print("演示数据已生成：" + "，".join(f"{k} {v} 行" for k, v in counts.items()))
    return 0


def _export(args) -> int:
    from minsheng import export

    ids = [i for part in args.indicator for i in part.split(",") if i]
    try:
        q = export.check(ids, args.region, args.level,
                         export.parse_period(args.date_from) if args.date_from else None,
                         export.parse_period(args.date_to, end=True) if args.date_to else None)
        n = export.write(q, Path(args.out), encoding=args.encoding)
    except export.ExportError as e:
        print(f"导出失败：{e}", file=sys.stderr)
        return 2
    print(f"已导出 {n} 行到 {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minsheng", description="民生指标看板命令行工具")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="重新生成内置演示数据")
    p.add_argument("--out", help="输出目录（默认 data/ 或 MINSHENG_DATA）")
    p.add_argument("--as-of", default="2026-10", help="最后一个有数据的月份，YYYY-MM（默认 2026-10）")
    p.set_defaults(func=_demo)
    p = sub.add_parser("export", help="按条件导出数据（与“数据”页下载的文件相同）")
    p.add_argument("--indicator", action="append", required=True, help="指标编码，可重复或用逗号分隔")
    p.add_argument("--region", help="区划代码（默认最上级区划）")
    p.add_argument("--level", choices=["city", "county", "township", "village"], help="导出该区域下此级别的各区划；不填则为区域本级")
    p.add_argument("--from", dest="date_from", help="起始时期：2023 或 2023-06")
    p.add_argument("--to", dest="date_to", help="结束时期：2024 或 2024-06")
    p.add_argument("--encoding", default="utf-8-sig", choices=["utf-8-sig", "gbk", "gb18030", "utf-8"],
                   help="CSV 编码（默认带 BOM 的 UTF-8）")
    p.add_argument("--out", required=True, help="输出文件 .csv 或 .xlsx")
    p.set_defaults(func=_export)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
