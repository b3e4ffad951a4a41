"""`python -m minsheng import FILE …` and `python -m minsheng template KIND`: the import for scripts."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from minsheng import audit, auth, changes, store, vocab
from minsheng.ingest.problems import ERROR


def _import(args) -> int:
    from minsheng.ingest import pipeline

    path = Path(args.file)
    if not path.is_file():
        print(f"导入失败：找不到文件 {path}", file=sys.stderr)
        return 2
    directory = store.data_dir()
    if args.kind == "boundaries" or path.suffix.lower() in (".geojson", ".json"):
        return _import_boundaries(args, path, directory)
    try:
        plan = pipeline.prepare(path.read_bytes(), path.name, directory, kind=args.kind, indicator=args.indicator,
                                within=args.within, factor=args.factor, area=_area(args))
    except FileNotFoundError as e:
        print(f"导入失败：数据目录 {directory} 不完整，缺少数据表（{Path(str(e)).name}）。"
              "可运行 python -m minsheng check 核查；新目录无需准备，导入时自动创建", file=sys.stderr)
        return 2
    for p in plan.problems:
        print(str(p), file=sys.stderr)
    if plan.errors:
        print(f"导入失败：{len(plan.errors)} 个错误，数据未改变。", file=sys.stderr)
        return 2
    c = plan.counts
    print(f"{plan.file}（{vocab.FILES.label(plan.kind)}）：新增 {c['新增']} 行，修改 {c['修改']} 行，未变 {c['未变']} 行")
    if plan.changes is not None and not plan.changes.empty:
        print(plan.changes.head(20).to_string(index=False))
        if len(plan.changes) > 20:
            print(f"……共 {len(plan.changes)} 行修改")
    if plan.locked:  # approved returns (the reporting cycle): a change needs a reason and reopens review
        print(f"以下 {len(plan.locked)} 份报表已审核通过并锁定，本次导入会修改其数据，提交后重新进入审核：", file=sys.stderr)
        for x in plan.locked:
            print(f"  {x.label}（{x.key.region_code}，{x.changed} 项）", file=sys.stderr)
    if args.dry_run:
        print("试运行（--dry-run）：未写入任何数据。")
        return 0
    if plan.locked and not (args.reason or "").strip():
        print("修改已审核通过的数据须用 --reason 说明原因；数据未改变。", file=sys.stderr)
        return 2
    if plan.warnings and not args.yes:
        print(f"有 {len(plan.warnings)} 个警告。核实后加 --yes 确认导入；数据未改变。", file=sys.stderr)
        return 3
    if not (c["新增"] or c["修改"]):
        print("文件中的数据与现有数据完全相同，无需导入。")
        return 0
    return changes.for_command(
        lambda: changes.commit(plan, actor=audit.os_user(), source="cli", accept_warnings=args.yes, directory=directory,
                               reason=args.reason),
        done="已导入，新数据版本 {version}（可用 python -m minsheng rollback 撤销）", failed="导入失败：{error}；数据未改变。")


def _area(args) -> str | None:
    """--area as a 12-digit code (a 6-digit one is padded); without it the operator imports for the whole tree.
    A code that is no region's refuses the import (scope.Area.refusal)."""
    if args.area is None:
        return None
    return auth.normalise_area(args.area) or args.area


def _import_boundaries(args, path: Path, directory: Path) -> int:
    payload = path.read_bytes()
    levels, problems = changes.check_boundaries(payload, path.name, crs=args.crs, code=args.code,
                                                user_area=_area(args), directory=directory)
    for p in problems:
        print(str(p), file=sys.stderr)
    if any(p.level == ERROR for p in problems) or not levels:
        print("导入失败：数据未改变。", file=sys.stderr)
        return 2
    summary = "，".join(f"{lv} {len(fc['features'])} 个" for lv, fc in levels.items())
    print(f"{path.name}：{summary}")
    if args.dry_run:
        print("试运行（--dry-run）：未写入任何数据。")
        return 0
    if any(p.level != ERROR for p in problems) and not args.yes:
        print("有警告。核实后加 --yes 确认导入；数据未改变。", file=sys.stderr)
        return 3
    return changes.for_command(
        lambda: changes.commit_boundaries(levels, file=path.name, sha256=hashlib.sha256(payload).hexdigest(),
                                          size=len(payload), actor=audit.os_user(), source="cli", directory=directory,
                                          user_area=_area(args)),
        done="已导入边界，新数据版本 {version}", failed="导入失败：{error}；数据未改变。")


def _template(args) -> int:
    from minsheng import repo
    from minsheng.ingest import template

    out = Path(args.out or f"{vocab.FILES.label(args.kind)}导入模板.xlsx")
    template.write_template(args.kind, out, repo.indicators(), repo.regions())
    print(f"已生成模板 {out}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("import", help="导入 Excel/CSV/Parquet/GeoJSON：逐行校验、预览，确认后写入新版本")
    p.add_argument("file", help="要导入的文件")
    p.add_argument("--kind", choices=[*vocab.FILES.codes, "boundaries"], help="数据类型（默认按列名自动识别）")
    p.add_argument("--indicator", help="宽表（一列一个时期）对应的指标编码")
    p.add_argument("--within", help="按名称匹配区划时的上级区划代码，避免重名")
    p.add_argument("--crs", choices=["gcj02", "wgs84"], help="边界坐标系（GCJ-02 会转换为 WGS84）")
    p.add_argument("--code", help="裸几何边界文件对应的区划代码")
    p.add_argument("--area", help="只允许导入该区划及其下级的数据（默认全部区划）")
    p.add_argument("--factor", type=float, default=3.0, help="与上年同期相比变化超过该倍数时警告（默认 3）")
    p.add_argument("--dry-run", action="store_true", help="只校验和预览，不写入")
    p.add_argument("--yes", action="store_true", help="确认存在警告时仍然导入")
    p.add_argument("--reason", help="修改已审核通过（锁定）的报表数据时须说明原因；这些报表随后重新进入审核")
    p.set_defaults(func=_import)
    p = sub.add_parser("template", help="生成填报模板（含说明、列名批注和下拉选项）")
    p.add_argument("kind", choices=list(vocab.FILES.codes))
    p.add_argument("--out", help="输出 .xlsx 文件（默认：<类型>导入模板.xlsx）")
    p.set_defaults(func=_template)
