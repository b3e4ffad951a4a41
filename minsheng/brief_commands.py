"""专报 and 任务进展 on the command line: `brief`, `note`, `notes`.

`--as NAME` acts as that account of the users file (its role and area: a county account's brief holds only
its county, however it was asked for); without it, the server's operator, an admin over every region.
"""

from __future__ import annotations

import re
from pathlib import Path

from minsheng import brief, cycle_commands, fmt, notes, store
from minsheng.ingest import cells, pipeline, scope
from minsheng.regions import Tree

_MONTH = re.compile(r"(\d{4})-(\d{1,2})")


def _month(text: str) -> tuple[int, int]:
    m = _MONTH.fullmatch(str(text or "").strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise brief.BriefError(f"月份“{cells.shown(str(text))}”应写成 2023-07")
    return int(m.group(1)), int(m.group(2))


def _region(text: str) -> str:
    return cells.twelve_digits(str(text or "")) or str(text)


def _brief(args) -> int:
    def make() -> str:
        year, month = _month(args.month)
        out = Path(args.out)
        pdf = args.pdf or out.suffix.lower() == ".pdf"
        actor = cycle_commands._actor(args)
        name, data, b = brief.build(store.data_dir(), actor, _region(args.region), year, month,
                                    source=cycle_commands._source(args), pdf=pdf, issue=args.issue,
                                    with_chart=not args.no_chart)
        tmp = out.with_name(out.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(out)  # a reader of `out` sees the old file or the whole new one
        said = f"已生成{b.region_name}{year}年{month}月专报（{b.issue_line}）：{out}（{len(data) // 1024} KB）"
        if b.narrowed_from:
            said += f"。按账号的管辖范围，只含{b.region_name}"
        return said
    return cycle_commands._run(make)


def _note(args) -> int:
    def write() -> str:
        year, month = _month(args.month)
        task = notes.Task(args.indicator, _region(args.region), year, month)
        version = notes.save(store.data_dir(), cycle_commands._actor(args), task, progress=args.progress,
                             owner=args.owner or "", source=cycle_commands._source(args))
        return f"已保存任务进展（版本 {version}）"
    return cycle_commands._run(write)


def _notes(args) -> int:
    def listing() -> str:
        year, month = _month(args.month)
        directory = store.data_dir()
        region = _region(args.region)
        tree = Tree(pipeline.table(directory, "regions"))
        actor = cycle_commands._actor(args)
        if actor.area is not None and not scope.Area(tree, actor.area).holds(region):
            raise notes.NoteError(f"{tree.names.get(region, region)}不在账号“{actor.name}”的管辖范围内")
        found = notes.of_month(directory, region, year, month)
        if found.empty:
            return f"{tree.names.get(region, region)}{year}年{month}月没有任务进展"
        rows = [("部门", "任务", "进展情况", "责任人", "填写人", "时间")]
        rows += [(cycle_commands._shown(r.department), cycle_commands._shown(r.task), cycle_commands._shown(r.progress),
                  cycle_commands._shown(r.owner), cycle_commands._shown(r.actor), (r.at or "")[:16].replace("T", " "))
                 for r in found.itertuples()]
        return fmt.text_table(rows)
    return cycle_commands._run(listing)


def add_parsers(sub) -> None:
    def acting(p):
        p.add_argument("--as", dest="as_user", help="以用户文件中该账号的角色和区域操作（默认：服务器管理员）")

    p = sub.add_parser("brief", help="生成工作专报（Word；--pdf 或 .pdf 文件名生成 PDF）")
    p.add_argument("--region", required=True, help="区划代码（6 位或 12 位）")
    p.add_argument("--month", required=True, help="月份，如 2023-07")
    p.add_argument("--out", required=True, help="写入的文件（.docx 或 .pdf）")
    p.add_argument("--pdf", action="store_true", help="生成 PDF（需要 LibreOffice）")
    p.add_argument("--issue", type=int, help="期数（默认按模板的起始月份计算）")
    p.add_argument("--no-chart", action="store_true", help="不插入图表（不需要浏览器，生成更快）")
    acting(p)
    p.set_defaults(func=_brief)
    p = sub.add_parser("note", help="填写一项任务某月的进展情况和责任人（同月再次填写即替换，旧的保留在历史中）")
    p.add_argument("--region", required=True, help="任务所属区划代码")
    p.add_argument("--indicator", required=True, help="任务的指标编码")
    p.add_argument("--month", required=True, help="月份，如 2023-07")
    p.add_argument("--progress", required=True, help="进展情况（一段文字）")
    p.add_argument("--owner", help="责任人")
    acting(p)
    p.set_defaults(func=_note)
    p = sub.add_parser("notes", help="列出某区划某月各任务的进展情况")
    p.add_argument("--region", required=True, help="区划代码")
    p.add_argument("--month", required=True, help="月份，如 2023-07")
    acting(p)
    p.set_defaults(func=_notes)

