"""`python -m minsheng users …`: add, change, disable and list the dashboard's users (minsheng/auth.py)."""

from __future__ import annotations

import getpass
import math
import sys

from minsheng import audit, auth, fmt, sessions
from minsheng.auth import (ROLE_ZH, AuthError, Role, add_user, area_code, disable, enable, get_user, list_users,
                           locked_for, remove_user, reset_single_user, set_area, set_password, set_role, users_path)


def _read_password() -> str:
    # Twice at a terminal to catch typos; once from a pipe (CI, scripts), which cannot retype.
    if sys.stdin.isatty():
        first = getpass.getpass("密码：")
        if getpass.getpass("再次输入密码：") != first:
            raise AuthError("两次输入的密码不一致")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _check_known(area: str) -> None:
    # A mistyped area would leave the user seeing nothing; check it when the regions table is there.
    from minsheng import store

    try:
        import pyarrow.parquet as pq

        codes = set(pq.read_table(store.table_path(store.resolve(store.data_dir()), "regions"),
                                  columns=["code"]).column("code").to_pylist())
    except (FileNotFoundError, store.StoreError):
        return
    if area_code(area) not in codes:
        raise AuthError(f"区划代码 {area_code(area)} 不在区划表中")


def _cli(args) -> int:
    by, src = audit.os_user(), "cli"
    try:
        if args.users_cmd == "add":
            _check_known(args.area)
            once = auth.one_time_password() if args.one_time else None
            pw = None if args.no_password else once or _read_password()
            u = add_user(args.name, args.role, args.area, pw, email=args.email, subject=args.subject,
                         by=by, source=src, one_time=bool(once))
            print(f"已添加用户 {u.name}（{ROLE_ZH[u.role]}，区域 {u.area}）")
            if once:
                print(f"一次性密码（只显示这一次，首次登录时须改为自己的密码）：{once}")
        elif args.users_cmd == "set-role":
            u = set_role(args.name, args.role, by=by, source=src)
            print(f"用户 {u.name} 的角色已改为 {ROLE_ZH[u.role]}")
        elif args.users_cmd == "set-area":
            _check_known(args.area)
            u = set_area(args.name, args.area, by=by, source=src)
            print(f"用户 {u.name} 的区域已改为 {u.area}")
        elif args.users_cmd == "passwd":
            if get_user(args.name) is None:  # before asking for a password that would be thrown away
                raise AuthError(f"没有用户“{args.name}”")
            once = auth.one_time_password() if args.one_time else None
            set_password(args.name, once or _read_password(), by=by, source=src, one_time=bool(once))
            print(f"用户 {args.name} 的密码已更新，其登录已全部结束")
            if once:
                print(f"一次性密码（只显示这一次，下次登录时须改为自己的密码）：{once}")
        elif args.users_cmd in ("disable", "enable"):
            u = (disable if args.users_cmd == "disable" else enable)(args.name, by=by, source=src)
            print(f"用户 {u.name} 已{'停用' if u.disabled else '启用'}")
        elif args.users_cmd == "remove":
            remove_user(args.name, by=by, source=src)
            print(f"已删除用户 {args.name}，其登录已全部结束（审计日志中的记录保留）")
        elif args.users_cmd == "sessions":
            if args.revoke:
                n = len(auth.end_sessions(args.revoke, by=by, source=src))
                print(f"已结束用户 {args.revoke} 的 {n} 个登录")
            else:
                _sessions(args.name)
        elif args.users_cmd == "reset-single-user":
            reset_single_user(by=by, source=src)
            print("已恢复本机单用户模式：看板不再要求登录，只在本机地址上提供服务")
        else:
            _list()
    except (AuthError, audit.AuditError) as e:  # AuditError: the change's intent went unrecorded, nothing changed
        print(f"错误：{e}", file=sys.stderr)
        return 2
    except OSError as e:  # unreadable users file, full disk: a message, not a traceback
        print(f"错误：无法读写 {e.filename or users_path()}：{e.strerror or e}", file=sys.stderr)
        return 2
    return 0


def _sessions(name: str | None) -> None:
    rows = [("用户", "登录编号", "登录时间", "最近活动", "到期", "来源", "方式")]
    for s in sessions.sessions(name):
        rows.append((s.user, s.short, sessions.when(s.created), sessions.when(s.seen), sessions.when(s.ends()),
                     s.source, "设置密码" if s.purpose == sessions.CHANGE_PASSWORD else s.method))
    if len(rows) == 1:
        print(f"{'用户 ' + name + ' ' if name else ''}没有进行中的登录")
        return
    print(fmt.text_table(rows))


def _list() -> None:
    now = auth.clock()  # tests move the clock
    rows = [("用户", "角色", "区域", "状态", "邮箱", "创建时间")]
    for u in list_users():
        left = locked_for({"locked_until": u.locked_until}, now)
        state = "已停用" if u.disabled else f"已锁定（{math.ceil(left / 60)} 分钟）" if left else "正常"
        rows.append((u.name, f"{ROLE_ZH[u.role]}({u.role.name})", u.area, state, u.email or "",
                     (u.created or "")[:19].replace("T", " ")))
    if len(rows) == 1:
        after = "添加第一个用户后，看板需要登录"
        if auth.sign_in_required():
            after = "此部署已有过用户，看板保持登录模式、无人能登录；确认恢复无登录的本机单用户模式：" \
                    "python -m minsheng users reset-single-user"
        print(f"没有用户（{users_path()}）；{after}")
        return
    print(fmt.text_table(rows))


def add_parsers(sub) -> None:
    """Register `users {add,set-role,set-area,passwd,disable,enable,list,remove,sessions,reset-single-user}`."""
    p = sub.add_parser("users", help="管理看板用户（有用户后看板需要登录）")
    p.set_defaults(func=_cli)
    us = p.add_subparsers(dest="users_cmd", required=True)
    roles = [r.name for r in Role]
    a = us.add_parser("add", help="添加用户；密码从标准输入读取")
    a.add_argument("name", help="用户名")
    a.add_argument("--role", required=True, choices=roles, help="viewer 浏览 / analyst 可导出 / admin 可导入、回滚、管理用户")
    a.add_argument("--area", required=True, help="可查看的区域：区划代码（2、4、6、9 或 12 位），含其下级")
    a.add_argument("--email", help="统一身份认证（OIDC）登录时按邮箱匹配")
    a.add_argument("--subject", help="统一身份认证（OIDC）登录时按 sub 匹配")
    a.add_argument("--no-password", action="store_true", help="不设密码，只能通过统一身份认证登录")
    a.add_argument("--one-time", action="store_true", help="生成一次性密码并显示一次，首次登录时须改为自己的密码")
    a = us.add_parser("set-role", help="修改角色")
    a.add_argument("name")
    a.add_argument("role", choices=roles)
    a = us.add_parser("set-area", help="修改区域")
    a.add_argument("name")
    a.add_argument("area")
    a = us.add_parser("passwd", help="重设密码（并解除锁定、结束其登录）；密码从标准输入读取")
    a.add_argument("name")
    a.add_argument("--one-time", action="store_true", help="生成一次性密码并显示一次，下次登录时须改为自己的密码")
    for cmd, text in (("disable", "停用用户"), ("enable", "重新启用用户并解除锁定")):
        us.add_parser(cmd, help=text).add_argument("name")
    us.add_parser("list", help="列出用户（不显示密码）")
    us.add_parser("remove", help="删除用户并结束其登录（审计记录保留）").add_argument("name")
    a = us.add_parser("sessions", help="列出进行中的登录；--revoke 用户名 结束该用户的全部登录")
    a.add_argument("name", nargs="?", help="只列出此用户的登录")
    a.add_argument("--revoke", metavar="用户名", help="结束此用户的全部登录（下一次点击即退出）")
    us.add_parser("reset-single-user",
                  help="用户文件中已没有用户时，恢复无登录的本机单用户模式（否则看板保持登录模式）")
