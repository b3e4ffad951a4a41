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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minsheng", description="民生指标看板命令行工具")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="重新生成内置演示数据")
    p.add_argument("--out", help="输出目录（默认 data/ 或 MINSHENG_DATA）")
    p.add_argument("--as-of", default="2026-10", help="最后一个有数据的月份，YYYY-MM（默认 2026-10）")
    p.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
