"""预警与推送 on the command line: `schedule run|status|check` and `outbox flush|retry` (for cron or a systemd timer)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from minsheng import audit, auth, notify, notify_config, store


def _now(args) -> dt.datetime:
    if not getattr(args, "now", None):
        return dt.datetime.now().astimezone()
    try:
        return notify.aware(dt.datetime.fromisoformat(args.now))
    except ValueError:
        raise notify.NotifyError(f"--now 的值“{args.now}”不是 ISO 时间（如 2026-12-03T08:00:00+08:00）") from None


def _guarded(step) -> int:
    try:
        return step()
    except (notify_config.ConfigError, notify.NotifyError, store.StoreError, auth.AuthError, audit.AuditError,
            OSError) as e:  # OSError: the audit log or the data directory cannot be written
        print(f"错误：{e}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from minsheng import schedule

    def step() -> int:
        report = schedule.run(store.data_dir(), _now(args), make_brief=schedule.default_make_brief(), source="cli")
        print("\n".join(report.lines()))
        return 0 if report.ok else 1

    return _guarded(step)


def _flush(args) -> int:
    def step() -> int:
        directory = store.data_dir()
        f = notify.flush(directory, notify_config.load(directory), _now(args), source="cli")
        print(f"发送成功 {f.sent} 条，待重试 {f.retrying} 条，失败 {f.failed} 条，因频率限制顺延 {f.waiting} 条")
        return 0

    return _guarded(step)


def _retry(args) -> int:
    def step() -> int:
        n = notify.retry(store.data_dir(), None if args.all else [int(i) for i in args.ids], _now(args))
        print(f"已重新排队 {n} 条失败的推送，将在下次运行时发送")
        return 0

    if not args.all and not args.ids:
        print("错误：请给出要重发的编号（见 schedule status），或用 --all 重发全部失败的推送", file=sys.stderr)
        return 2
    return _guarded(step)


def _status(args) -> int:
    def step() -> int:
        print("\n".join(status_lines(notify.status(store.data_dir()))))
        return 0

    return _guarded(step)


_STATUS_ZH = {"pending": "待发送", "sent": "已发送", "failed": "失败"}


def status_lines(st: dict) -> list[str]:
    """The status as a terminal reads it."""
    out = [f"预警：未解除 {st['alerts']['open']} 条，已解除 {st['alerts']['closed']} 条", "推送队列："]
    out += [f"  {r['channel']}：{_STATUS_ZH.get(r['status'], r['status'])} {r['n']} 条" for r in st["counts"]] or ["  （空）"]
    if st["failed"]:
        out.append("失败的推送（修正配置后可用 outbox retry 编号 重发）：")
        out += [f"  #{r['id']} {r['channel']} → {r['recipient']}，尝试 {r['attempts']} 次：{r['last_error']}" for r in st["failed"]]
    if st["pending"]:
        out.append("待发送（最早的 20 条）：")
        out += [f"  #{r['id']} {r['channel']} → {r['recipient']}，下次 {r['next_attempt_at']}"
                + (f"，上次错误：{r['last_error']}" if r["last_error"] else "") for r in st["pending"]]
    out.append("最近运行：")
    out += [f"  {r['job']}  {r['done_at']}  {r['note'] or ''}" for r in st["runs"]] or ["  （尚未运行）"]
    return out


def _check(args) -> int:
    def step() -> int:
        cfg = notify_config.load(store.data_dir())
        print("\n".join(cfg.notes) or f"推送配置有效：{len(cfg.channels)} 个渠道，{len(cfg.contacts)} 位联系人，"
                                       f"{len(cfg.briefs)} 项专报，{cfg.after_days} 天后升级")
        return 0

    return _guarded(step)


def add_parsers(sub) -> None:
    """`schedule` and `outbox` under `python -m minsheng`."""
    p = sub.add_parser("schedule", help="定时任务：评估预警、推送消息、发送专报（供 cron 或 systemd 定时器调用）")
    s = p.add_subparsers(dest="schedule_command", required=True)
    q = s.add_parser("run", help="运行一次：评估预警，写入消息中心，按日汇总推送，发送到期的专报")
    q.add_argument("--now", help="以此时间运行（ISO 时间，测试或补发用；默认当前时间）")
    q.set_defaults(func=_run)
    q = s.add_parser("status", help="推送队列、失败的推送和最近的运行")
    q.set_defaults(func=_status)
    q = s.add_parser("check", help="检查推送配置 settings/delivery.toml")
    q.set_defaults(func=_check)
    p = sub.add_parser("outbox", help="推送队列")
    s = p.add_subparsers(dest="outbox_command", required=True)
    q = s.add_parser("flush", help="立即发送到期的推送（受每个机器人每分钟 20 条的限制）")
    q.add_argument("--now", help="以此时间发送（ISO 时间；默认当前时间）")
    q.set_defaults(func=_flush)
    q = s.add_parser("retry", help="把失败的推送重新排队")
    q.add_argument("ids", nargs="*", help="推送编号（见 schedule status）")
    q.add_argument("--all", action="store_true", help="全部失败的推送")
    q.add_argument("--now", help=argparse.SUPPRESS)
    q.set_defaults(func=_retry)


