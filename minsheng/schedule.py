"""`python -m minsheng schedule run`: evaluate the 预警 rules, tell whoever is due, send the briefs due, flush the outbox.

Meant for cron or a systemd timer (README "预警与推送"); idempotent: one run at a time (a lock file), alert
state and outbox rows written in one transaction, every outbox row with a UNIQUE idempotency key, every
brief with a job key ("brief:430671000000:2023-07") — so a second run, or two at once, sends nothing twice.
The rules (`evaluate`) and the brief writer (`make_brief`) are passed in, so this module runs and is tested
without either; `make_brief` None skips the briefs with a note.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from minsheng import auth, notify, notify_config
from minsheng.notify import Places, stamp, transaction

LOCK_TIMEOUT = 300   # seconds a run waits for another to finish (then it has nothing left to send)

Evaluate = Callable[..., list]                       # (directory, today, area=None) -> list[Alert]
MakeBrief = Callable[[Path, str, int, int], tuple[str, bytes]]


@dataclass
class Report:
    """What one run did, for the command's output and the tests."""
    alerts: int = 0
    notices: int = 0
    closed: int = 0
    messages: int = 0
    queued: int = 0
    briefs: list[str] = field(default_factory=list)
    flushed: notify.Flushed = field(default_factory=notify.Flushed)
    notes: list[str] = field(default_factory=list)
    ok: bool = True

    def lines(self) -> list[str]:
        f = self.flushed
        return [f"预警 {self.alerts} 条：新增或升级通知 {self.notices} 条，已解除 {self.closed} 条；消息中心新增 {self.messages} 条",
                f"入队 {self.queued} 条；发送成功 {f.sent} 条，待重试 {f.retrying} 条，失败 {f.failed} 条，"
                f"因频率限制顺延 {f.waiting} 条",
                *(f"已发送专报：{b}" for b in self.briefs), *(f"注意：{n}" for n in self.notes)]


def _default_evaluate() -> Evaluate | None:
    from minsheng import alerts

    return getattr(alerts, "evaluate", None)


def default_make_brief() -> MakeBrief | None:
    """The 专报 writer (minsheng.brief.build) where it exists, else None: written as the server's operator with
    the brief's own region as area, so a county's brief holds that county only."""
    import importlib.util

    if importlib.util.find_spec("minsheng.brief") is None:
        return None
    from minsheng import audit, brief, cycle  # an error inside brief is raised, not taken for "not there"

    def make(directory: Path, region: str, year: int, month: int) -> tuple[str, bytes]:
        actor = cycle.Actor(audit.os_user(), auth.Role.admin, region)
        name, data, _ = brief.build(directory, actor, region, year, month, source="schedule")
        return name, data

    return make


def run(directory: Path, now: dt.datetime | None = None, *, evaluate: Evaluate | None = None,
        make_brief: MakeBrief | None = None, users: list[auth.User] | None = None, source: str = "schedule",
        lock_timeout: float = LOCK_TIMEOUT) -> Report:
    """One scheduled run at `now` (default: the clock). ConfigError when the settings file is wrong (nothing done)."""
    now = notify.aware(now or dt.datetime.now().astimezone())
    cfg = notify_config.load(directory)
    report = Report(notes=list(cfg.notes))
    with notify.held(directory, "schedule", lock_timeout, "另一个定时任务正在运行，请稍后再试"):
        places = notify.places_of(directory)
        users = auth.list_users() if users is None else users
        _alerts(directory, cfg, places, users, now, evaluate or _default_evaluate(), report, source)
        _briefs(directory, cfg, places, users, now, make_brief, report, source)
        report.flushed = notify.flush(directory, cfg, now, source=source, lock_timeout=lock_timeout)
    return report


def _alerts(directory: Path, cfg, places: Places, users, now: dt.datetime, evaluate, report: Report, source: str) -> None:
    today = now.date()
    if evaluate is None:
        report.notes.append("预警规则尚未接入（minsheng.alerts.evaluate），本次不评估预警")
        return
    try:
        found = list(evaluate(directory, today))
    except Exception as e:  # the rules failing must not close every open alert, nor stop the outbox
        report.ok = False
        report.notes.append(f"预警评估失败（{type(e).__name__}: {e}），本次不更新预警状态")
        return
    con = notify.connect(directory)
    try:
        with transaction(con):
            notices, report.closed = notify.track(con, found, today, cfg.after_days)
            created, report.queued = notify.queue_alerts(con, cfg, places, users, notices, now)
            con.execute("insert or replace into runs (job, done_at, note) values (?, ?, ?)",
                        (f"alerts:{today.isoformat()}", stamp(now), f"{len(found)} 条预警，{len(notices)} 条通知"))
    finally:
        con.close()
    report.alerts, report.notices, report.messages = len(found), len(notices), len(created)
    notify.audit_messages(created, source)


# --- briefs -------------------------------------------------------------------------------------

def previous_month(day: dt.date) -> tuple[int, int]:
    return (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)


def brief_key(region: str, year: int, month: int) -> str:
    return f"brief:{region}:{year:04d}-{month:02d}"


def _briefs(directory: Path, cfg, places: Places, users, now: dt.datetime, make_brief, report: Report, source: str) -> None:
    today = now.date()
    year, month = previous_month(today)
    for job in cfg.briefs:
        key = brief_key(job.region, year, month)
        if today.day < job.day_of_month or _done(directory, key):
            continue
        if make_brief is None:
            report.notes.append(f"专报生成未接入，{places.name(job.region)} {year}年{month}月专报未发送")
            continue
        try:
            name, data = make_brief(directory, job.region, year, month)
        except Exception as e:  # not marked done: the next run tries again
            report.ok = False
            report.notes.append(f"{places.name(job.region)} {year}年{month}月专报生成失败（{type(e).__name__}: {e}）")
            continue
        _send_brief(directory, cfg, places, users, job, key, (year, month), (name, data), now, report, source)


def _done(directory: Path, key: str) -> bool:
    con = notify.connect(directory)
    try:
        return con.execute("select 1 from runs where job = ?", (key,)).fetchone() is not None
    finally:
        con.close()


def _recipients(cfg, places: Places, job) -> list:
    if job.recipients:
        return [c for c in cfg.contacts if c.name in job.recipients]
    return [c for c in cfg.contacts if places.holds(c.area, job.region)]


def _send_brief(directory: Path, cfg, places: Places, users, job, key: str, ym: tuple[int, int],
                file: tuple[str, bytes], now: dt.datetime, report: Report, source: str) -> None:
    """Queue the brief on its channels and in the 消息中心, and mark its job done, in one transaction."""
    (year, month), (name, data) = ym, file
    region_name = places.name(job.region)
    title = f"{region_name}{year}年{month}月重点民生实事工作专报"
    people = _recipients(cfg, places, job)
    con = notify.connect(directory)
    created: list = []
    try:
        with transaction(con):
            if con.execute("select 1 from runs where job = ?", (key,)).fetchone():
                return
            for cid in job.channels:
                _queue_brief(con, cfg.channel(cid), people, job, key, title, file, now, places)
            accounts = {u.name for u in users if not u.disabled and u.can("review") and places.holds(u.area, job.region)}
            accounts |= {c.account for c in people if c.account}
            for account in sorted(accounts):
                mid = notify.add_message(con, account, stamp(now), title, f"专报《{name}》已生成并发送。", "brief", key)
                if mid:
                    created.append((account, mid, key))
            con.execute("insert into runs (job, done_at, note) values (?, ?, ?)", (key, stamp(now), name))
    finally:
        con.close()
    report.messages += len(created)
    report.briefs.append(title)
    notify.audit_messages(created, source)


def _queue_brief(con, ch, people, job, key: str, title: str, file: tuple[str, bytes], now: dt.datetime,
                 places: Places) -> None:
    if ch is None or "brief" not in ch.kinds:
        return
    name, data = file
    if ch.type == "smtp":
        for c in people:
            if c.email:
                body = (f"{c.name}：\n\n附件为《{name}》（{title}），请查收。\n\n此邮件由民生指标看板自动发送。")
                notify.enqueue(con, ch, c.email, "brief", job.region, dict(to=c.email, subject=title, body=body),
                               f"{key}:{ch.id}:{c.email}", now, attachment=(name, data))
        return
    text = f"{title}（{name}）已生成，请查收邮件，或在民生指标看板查看。"
    if ch.type == "wecom":
        payload = notify.channels.wecom_body(f"### 专报\n{notify.channels.escape_markdown(text)}")
    elif ch.type == "dingtalk":
        payload = notify.channels.dingtalk_body("专报", f"### 专报\n\n{notify.channels.escape_markdown(text)}")
    else:
        payload = dict(version=1, kind="brief", region=job.region, region_name=places.name(job.region), title=title,
                       text=text, items=[], attachment=dict(name=name, size=len(data),
                                                            sha256=hashlib.sha256(data).hexdigest(),
                                                            base64=base64.b64encode(data).decode("ascii")))
    notify.enqueue(con, ch, "群", "brief", job.region, payload, f"{key}:{ch.id}", now)


# --- after a commit ------------------------------------------------------------------------------

HOOK_OFF = "MINSHENG_NO_ALERT_HOOK"  # set (the test suite does): commits do not evaluate the rules


def after_commit(directory: Path, now: dt.datetime | None = None, *, source: str = "commit") -> Report | None:
    """The 预警 step of a run right after a commit: the rules on the new version, the 消息中心 of everyone due and
    the pushes of what is new or escalated (briefs wait for the schedule). Skipped when a run holds the lock:
    that run sees the new version itself. A wrong settings file is said once and changes nothing."""
    now = notify.aware(now or dt.datetime.now().astimezone())
    try:
        cfg = notify_config.load(directory)
        with notify.held(directory, "schedule", 0, "另一个定时任务正在运行"):
            report = Report(notes=list(cfg.notes))
            _alerts(directory, cfg, notify.places_of(directory), auth.list_users(), now, _default_evaluate(), report,
                    source)
            report.flushed = notify.flush(directory, cfg, now, source=source, lock_timeout=0)
            return report
    except Exception as e:  # noqa: BLE001 — the commit has happened; the next scheduled run catches up
        import sys

        print(f"注意：提交后的预警评估未完成（{e}），下次定时任务会补上", file=sys.stderr)
        return None


def after_commit_in_background(directory: Path, source: str = "commit") -> None:
    """`after_commit` in a thread of its own, so the page or command that committed does not wait for the rules;
    not a daemon thread, so a command line's process finishes it before it exits."""
    import os
    import threading

    if os.environ.get(HOOK_OFF):
        return
    threading.Thread(target=after_commit, args=(Path(directory),), kwargs={"source": source},
                     name="minsheng-alerts-after-commit").start()
