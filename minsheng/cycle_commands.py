"""The reporting cycle on the command line: `forms`, `submissions`, `submit`, `approve`, `return`, `progress`.

Each step is the one the 填报 and 审核 pages take (minsheng/cycle.py), with the same checks and the same
audit lines. `--as NAME` acts as that account of the users file (its role and area; the audit line
names the account and the OS user who ran the command); without it the command is the server's
operator, an admin over every region, named by the OS user.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import pandas as pd

from minsheng import audit, auth, cycle, files, fmt, forms, progress, store, vocab
from minsheng.ingest import cells, pipeline, scope
from minsheng.regions import Tree

_OS_ZH = {errno.ENOENT: "找不到该文件或目录", errno.EACCES: "没有读写权限", errno.EPERM: "没有读写权限",
          errno.EISDIR: "这是一个目录，不是文件", errno.ENOTDIR: "路径中有一段不是目录", errno.ENOSPC: "磁盘空间不足",
          errno.EROFS: "文件系统只读"}


def _shown(value) -> str:
    """A stored value as one line of a terminal's table: empty for none, control characters (a line break
    of a reason written before reasons were one line, a terminal escape) as U+XXXX."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    return cells.shown(str(value))


def _os_message(e: OSError) -> str:
    name = Path(e.filename).name if getattr(e, "filename", None) else ""
    return f"{_OS_ZH.get(e.errno, '文件读写失败')}" + (f"（{cells.shown(name)}）" if name else "")


def _actor(args) -> cycle.Actor:
    if not getattr(args, "as_user", None):
        return cycle.Actor(audit.os_user(), auth.Role.admin, None)
    found = next((u for u in auth.list_users() if u.name == args.as_user), None)
    if found is None or found.disabled:
        raise cycle.CycleError(f"用户文件中没有可用的账号“{args.as_user}”")
    return cycle.Actor.of(found)


def _source(args) -> str:
    return "cli" if not getattr(args, "as_user", None) else f"cli:{audit.os_user()}"


def _area(args, tree: Tree) -> str | None:
    """The area a read command shows: --area, which must lie in the --as account's area; without --area the
    account's own; None (everything) for the server's operator."""
    actor = _actor(args) if getattr(args, "as_user", None) else None
    asked = auth.normalise_area(args.area) or args.area if getattr(args, "area", None) else None
    if actor is None:
        if asked is not None and asked not in tree:
            raise cycle.CycleError(f"区划代码“{cells.shown(str(asked))}”不在区划表中")
        return asked
    own = scope.Area(tree, actor.area)
    if own.refusal:
        raise cycle.CycleError(own.refusal.replace("不能导入或回退", "不能查看报送情况"))
    if asked is None:
        return actor.area
    if not own.holds(asked):
        raise cycle.CycleError(f"{cells.shown(str(asked))} 不在账号“{actor.name}”的管辖范围（{own.name}）内")
    return asked


def _key(args, directory: Path) -> tuple[cycle.Key, forms.Form]:
    form = forms.get(directory, args.form)
    return cycle.Key(form.id, args.region, form.period_of(args.period)), form


def _run(step) -> int:
    try:
        print(step())
    except (store.StoreError, forms.FormError, auth.AuthError, OSError) as e:
        if isinstance(e, cycle.Invalid):
            for p in e.problems:
                print(f"{p.where()}：{p.message}", file=sys.stderr)
            print("未上报，数据未改变", file=sys.stderr)
        elif isinstance(e, OSError):  # a file named on the command line: Chinese, and no server path
            print(f"未执行：{_os_message(e)}", file=sys.stderr)
        else:
            print(f"未执行：{e}", file=sys.stderr)
        return 2
    return 0


def _forms(args) -> int:
    directory = store.data_dir()

    def show() -> str:
        found = forms.load(directory)
        if not found:
            return "尚未定义报表"
        names = pipeline.table(directory, "indicators").set_index("id")["name_zh"]
        tree = Tree(pipeline.table(directory, "regions"))
        rows = [("编码", "名称", "填报级别", "下发单位", "频度", "截止", "启用", "停用", "指标")]
        for f in found.values():
            if args.form and f.id != args.form:
                continue
            rows.append((f.id, f.name, vocab.LEVELS.label(f.level),
                         tree.names.get(f.issued_by, f.issued_by) if f.issued_by else "全部",
                         vocab.FREQUENCIES.label(f.frequency),
                         f.deadline_text, str(f.valid_from or "—"), str(f.valid_to or "—"),
                         "、".join(names.get(i, i) for i in f.indicators)))
        return fmt.text_table(rows)
    return _run(show)


def _submissions(args) -> int:
    directory = store.data_dir()

    def listing() -> str:
        st = cycle.states(directory)
        if args.form:
            st = st[st["form_id"] == args.form]
        if args.state:
            st = st[st["state"] == args.state]
        tree = Tree(pipeline.table(directory, "regions"))
        area = _area(args, tree)
        if area is not None:
            st = st[[area in tree.path(c) for c in st["region_code"]]]
        rows = [("报表", "区划", "时期", "状态", "最后操作人", "时间", "原因")]
        rows += [(_shown(r.form_id), f"{_shown(tree.names.get(r.region_code, r.region_code))}（{r.region_code}）",
                  f"{r.period:%Y-%m}", cycle.STATE_ZH.get(r.state, _shown(r.state)), _shown(r.actor), _shown(r.at),
                  _shown(r.reason)) for r in st.itertuples(index=False)]
        return fmt.text_table(rows) if len(rows) > 1 else "没有符合条件的报送记录"

    def show() -> str:
        key, form = _key(args, directory)
        tree = Tree(pipeline.table(directory, "regions"))
        area = _area(args, tree)
        if area is not None and not scope.Area(tree, area).holds(key.region_code):
            raise cycle.CycleError(f"{_shown(tree.names.get(key.region_code, key.region_code))}不在您的管辖范围内")
        s = cycle.status(directory, key)
        lines = [f"{_shown(key.label(form, tree))}：{s.state_zh}"]
        for e in s.events.itertuples(index=False):
            why, batch = _shown(e.reason), _shown(e.batch_id)
            lines.append(f"  {e.seq}. {_shown(e.at)} {_shown(e.actor)} {cycle.EVENT_ZH.get(e.event, _shown(e.event))}"
                         + (f"：{why}" if why else "") + (f"（批次 {batch}）" if batch else ""))
        if s.state == cycle.SUBMITTED:
            diff = cycle.since_approval(directory, key)
            lines.append(f"  与现有数据相比有 {int(diff['changed'].sum())} 项变化")
        return "\n".join(lines)
    return _run(show if args.form and args.region and args.period else listing)


def _submit(args) -> int:
    directory = store.data_dir()

    def step() -> str:
        key, form = _key(args, directory)
        data = Path(args.file).read_bytes() if args.file else None
        values = {}
        for item in args.value or []:
            iid, _, v = item.partition("=")
            values[iid.strip()] = v.strip()
        if data is None and not values:
            raise cycle.CycleError("请给出填好的模板文件，或用 --value 指标编码=数值 逐项填写")
        version = cycle.submit(directory, _actor(args), key, cells_in=values or None, data=data,
                               file=Path(args.file).name if args.file else None, reason=args.reason,
                               accept_warnings=args.yes, source=_source(args))
        return f"已上报，等待审核（数据版本 {version}）"
    return _run(step)


def _approve(args) -> int:
    directory = store.data_dir()

    def step() -> str:
        key, _ = _key(args, directory)
        return f"已审核通过，数据已入库（数据版本 {cycle.approve(directory, _actor(args), key, source=_source(args))}）"
    return _run(step)


def _return(args) -> int:
    directory = store.data_dir()

    def step() -> str:
        key, _ = _key(args, directory)
        version = cycle.send_back(directory, _actor(args), key, reason=args.reason, source=_source(args))
        return f"已退回（数据版本 {version}）"
    return _run(step)


def _progress(args) -> int:
    directory = store.data_dir()

    def step() -> str:
        form = forms.get(directory, args.form)
        first = form.period_of(args.first)
        last = form.period_of(args.last) if args.last else first
        regions = pipeline.table(directory, "regions")
        tree = Tree(regions)
        area = _area(args, tree)  # an account sees its own area only, whatever --area says
        table = progress.cells(directory, form, form.periods(first, last), area)
        r = progress.rates(table, regions, area)
        top = area or (tree.roots[0] if tree.roots else None)
        rows = [("区划", "时期", "应报", "已报", "按时", "待审核", "已退回", "未报", "报送率", "及时率")]
        for x in r[r["region_code"] == top].itertuples(index=False):
            rows.append((_shown(tree.names.get(x.region_code, x.region_code)), forms.period_label(x.period, form.frequency),
                         x.expected, x.reported, x.on_time, x.pending, x.returned, x.missing,
                         f"{x.report_rate:.1f}%", f"{x.on_time_rate:.1f}%"))
        out = fmt.text_table(rows) if len(rows) > 1 else "所选时期和区域内没有应报的报表（报表未启用，或区域内没有填报单位）"
        if args.chase:
            due = progress.chase(table, form, regions)
            book = progress.chase_xlsx(due, form, tree.names.get(top, "全部区划"))
            try:
                files.atomic_write(Path(args.chase), lambda tmp: tmp.write_bytes(book))  # never half a workbook
            except OSError as e:
                e.filename = args.chase  # the file asked for, not the temporary one beside it
                raise
            audit.record("export", _actor(args).name, dict(kind="催报", form=form.id, rows=len(due),
                                                           file=Path(args.chase).name), _source(args))
            out += f"\n催报清单 {len(due)} 条已写入 {Path(args.chase).name}"
        return out
    return _run(step)


def add_parsers(sub) -> None:
    def acting(p):
        p.add_argument("--as", dest="as_user", help="以用户文件中该账号的角色和区域操作（默认：服务器管理员）")

    def keyed(p, required=True):
        p.add_argument("--form", required=required, help="报表编码（见 forms）")
        p.add_argument("--region", required=required, help="填报区划的代码（12 位）")
        p.add_argument("--period", required=required, help="时期：2026-10、2026年第3季度 或 2026")
        acting(p)

    p = sub.add_parser("forms", help="列出报表：名称、填报级别、频度、截止时间、指标")
    p.add_argument("--form", help="只看这个报表")
    p.set_defaults(func=_forms)
    p = sub.add_parser("submissions", help="报送记录：各报表、区划、时期的状态；给出 --form --region --period 看一份的全过程")
    keyed(p, required=False)
    p.add_argument("--state", choices=list(cycle.STATE_ZH)[2:], help="只看此状态")
    p.add_argument("--area", help="只看该区划及其下级")
    p.set_defaults(func=_submissions)
    p = sub.add_parser("submit", help="上报一份报表：填好的模板文件，或 --value 逐项填写；与导入同样校验")
    keyed(p)
    p.add_argument("file", nargs="?", help="填好的报表模板（xlsx/csv）")
    p.add_argument("--value", action="append", help="指标编码=数值，可重复")
    p.add_argument("--reason", help="修改已通过的数据时须说明原因")
    p.add_argument("--yes", action="store_true", help="确认存在警告时仍然上报")
    p.set_defaults(func=_submit)
    p = sub.add_parser("approve", help="审核通过一份上报（数据入库，该期锁定）")
    keyed(p)
    p.set_defaults(func=_approve)
    p = sub.add_parser("return", help="退回一份上报，须说明原因")
    keyed(p)
    p.add_argument("--reason", required=True, help="退回原因")
    p.set_defaults(func=_return)
    p = sub.add_parser("progress", help="报送进度：应报、已报、按时、待审核、已退回、未报及报送率；--chase 写催报清单")
    p.add_argument("--form", required=True, help="报表编码")
    p.add_argument("--from", dest="first", required=True, help="起始时期，如 2026-01")
    p.add_argument("--to", dest="last", help="结束时期（默认同起始）")
    p.add_argument("--area", help="区域（默认 --as 账号的区域，或全部）")
    p.add_argument("--chase", help="把催报清单写入此 .xlsx 文件")
    acting(p)
    p.set_defaults(func=_progress)


