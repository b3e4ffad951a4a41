"""预警 delivery's state and logic: alerts seen, the 消息中心, the outbox, addressing, escalation and digests.

State lives in one SQLite database, <data>/notify/notify.sqlite (WAL, a busy timeout, a connection per
process, every write one transaction), so a crash or a restart loses nothing and sends nothing twice:
an alert's escalation step, its 消息中心 messages and the outbox rows that push it are written in the
same transaction, and every outbox row carries a UNIQUE idempotency key.

An alert is told to its 责任人 when it first appears, to the 部门负责人 of its department and area after
`after_days` still open, to the area's 分管领导 after twice that; it is closed when evaluate() no longer
finds it (and not sent again), and is new if it comes back. Pushes are digests: one message per
recipient and channel a day, 严重 first, capped, pointing to the 消息中心 for the rest. The 消息中心
holds every alert, one message each, for the reviewers and admins whose area holds it and for contacts
with an account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from minsheng import audit, auth, channels, locks
from minsheng.alerts import LEVELS, Alert
from minsheng.notify_config import DUTIES, Channel, Config, Contact

BUSY_MS = 30_000
BACKOFF = (60, 300, 1800, 7200, 21600)   # seconds after the 1st, 2nd, … failed attempt (the last repeats)
MAX_ATTEMPTS = 8                          # then the row is failed (about a day of retrying)
WINDOW = 60                               # seconds of the robots' rate window
DIGEST_ITEMS = 10                         # items a robot digest shows before "另有N条"
MAIL_ITEMS = 100
INBOX_HINT = "请到民生指标看板“消息中心”查看"

SCHEMA = """
create table if not exists alerts_seen (
    key text primary key, rule text, region_code text, department text, level text, title text,
    first_seen text not null, last_seen text not null, closed_at text, step integer not null default 0);
create table if not exists messages (
    id integer primary key autoincrement, account text not null, created text not null, title text not null,
    body text not null, kind text not null, key text, read_at text, unique (account, key));
create index if not exists messages_account on messages (account, read_at);
create table if not exists attachments (sha256 text primary key, name text not null, data blob not null);
create table if not exists outbox (
    id integer primary key autoincrement, channel text not null, recipient text not null, kind text not null,
    region_code text, payload text not null, attachment text references attachments (sha256),
    idem text not null unique, created text not null, attempts integer not null default 0,
    next_attempt_at text not null, last_attempt_at text,
    status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
    last_error text, sent_at text);
create index if not exists outbox_due on outbox (status, next_attempt_at);
create index if not exists outbox_window on outbox (channel, last_attempt_at);
create table if not exists runs (job text primary key, done_at text not null, note text);
"""


class NotifyError(Exception):
    """Delivery state cannot be read or written; the message is Chinese."""


# --- the database -------------------------------------------------------------------------------

def db_path(directory: Path) -> Path:
    return Path(directory) / "notify" / "notify.sqlite"


def connect(directory: Path) -> sqlite3.Connection:
    """This process's own connection (autocommit: writes go through `transaction`), the schema made."""
    path = db_path(directory)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=BUSY_MS / 1000, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("pragma busy_timeout = 30000")
        con.execute("pragma journal_mode = wal")
        con.execute("pragma synchronous = full")  # an outbox row marked sent stays sent through a power cut
        con.execute("pragma foreign_keys = on")
        con.executescript(SCHEMA)
    except (OSError, sqlite3.Error) as e:
        raise NotifyError(f"无法打开推送状态库 {path}（{e}）") from None
    return con


@contextmanager
def transaction(con: sqlite3.Connection):
    """One write transaction, taken at once (BEGIN IMMEDIATE) so two processes never interleave."""
    con.execute("begin immediate")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def stamp(t: dt.datetime) -> str:
    """A time as fixed-width UTC text, so SQL compares times as strings."""
    return aware(t).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def aware(t: dt.datetime) -> dt.datetime:
    """A naive time is this machine's local time."""
    return t if t.tzinfo else t.astimezone()


def _lock(directory: Path, name: str, timeout: float, busy: str):
    """An flock on <data>/notify/<name>.lock, released by the kernel if the holder dies."""
    path = Path(directory) / "notify" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        locks.acquire(fd, timeout, NotifyError(busy))
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def held(directory: Path, name: str, timeout: float, busy: str):
    fd = _lock(directory, name, timeout, busy)
    try:
        yield
    finally:
        os.close(fd)


# --- 消息中心 -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    """One 消息中心 entry of one account."""
    id: int
    created: str
    title: str
    body: str
    kind: str
    key: str | None
    read_at: str | None


def _reader(directory: Path) -> sqlite3.Connection | None:
    """A connection for reading, or None when nothing was ever delivered (no file is made by reading)."""
    return connect(directory) if db_path(directory).exists() else None


# a message's region: its alert's (alerts_seen, by the key before the tag's "#"), or a brief's (brief:<code>:<month>)
_INBOX = ("select id, created, title, body, kind, key, read_at, "
          "coalesce((select a.region_code from alerts_seen a where a.key = substr(m.key, 1, instr(m.key, '#') - 1)), "
          "case when m.key like 'brief:%' then substr(m.key, 7, 12) end) as region from messages m "
          "where account = ? and (? = 0 or read_at is null) order by created desc, id desc")


def _yours(rows, within) -> list:
    """The rows whose region `within` holds: a message about a region the account's area no longer holds (its
    area changed, or a removed account's name was given again) is not read. A message whose region is not
    known (none made by delivery) is kept."""
    return [r for r in rows if within is None or r["region"] is None or within(r["region"])]


def inbox(directory: Path, user: str, *, unread_only: bool = False, limit: int = 100, within=None) -> list[Message]:
    """The account's messages, newest first; `within` (a predicate on a region code, the reader's area) leaves out
    those about regions outside it."""
    con = _reader(directory)
    if con is None:
        return []
    with closing(con):
        rows = con.execute(_INBOX, (user, int(unread_only))).fetchall()
    return [Message(**{k: r[k] for k in r.keys() if k != "region"}) for r in _yours(rows, within)[:int(limit)]]


def unread_count(directory: Path, user: str, *, within=None) -> int:
    """How many of the account's messages are unread (the badge on the 消息中心 link), within `within` as `inbox`."""
    con = _reader(directory)
    if con is None:
        return 0
    with closing(con):
        rows = con.execute(_INBOX, (user, 1)).fetchall()  # the unread ones, each with its region
    return len(_yours(rows, within))


def mark_read(directory: Path, user: str, ids, *, now: dt.datetime | None = None) -> int:
    """Mark the account's own messages among `ids` read; another account's ids are left alone. Returns how many."""
    ids = [int(i) for i in ids]
    con = _reader(directory)
    if con is None or not ids:
        return 0
    when = stamp(now or dt.datetime.now(dt.timezone.utc))
    with closing(con), transaction(con):
        return sum(con.execute("update messages set read_at = ? where id = ? and account = ? and read_at is null",
                               (when, i, user)).rowcount for i in ids)


def add_message(con: sqlite3.Connection, account: str, created: str, title: str, body: str, kind: str,
                key: str) -> int | None:
    """A 消息中心 message (inside the caller's transaction); None when the account already has this key."""
    cur = con.execute("insert or ignore into messages (account, created, title, body, kind, key) values (?, ?, ?, ?, ?, ?)",
                      (account, created, title, body, kind, key))
    return cur.lastrowid if cur.rowcount else None


def audit_messages(created: list[tuple[str, int, str]], source: str) -> None:
    """One audit line per 消息中心 message made, after the transaction that made them."""
    for account, mid, key in created:
        audit.record("send", audit.os_user(), {"channel": "消息中心", "account": account, "message": mid, "key": key,
                                               "ok": True}, source)


# --- alert state and escalation ------------------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    """An alert to be told at an escalation step (0 责任人, 1 部门负责人, 2 分管领导)."""
    alert: Alert
    step: int
    first_seen: dt.date
    days: int

    @property
    def duty(self) -> str:
        return DUTIES[self.step]

    @property
    def tag(self) -> str:
        """The same alert, episode and step give the same tag (a closed alert that returns is a new episode)."""
        return f"{self.alert.key}#{self.first_seen.isoformat()}#{self.step}"


def step_due(days_open: int, after_days: int) -> int:
    return min(2, days_open // after_days)


def track(con: sqlite3.Connection, found: list[Alert], today: dt.date, after_days: int) -> tuple[list[Notice], int]:
    """Update the alerts seen with today's evaluation (inside a transaction): the notices due, and how many closed."""
    known = {r["key"]: r for r in con.execute("select key, first_seen, closed_at, step from alerts_seen")}
    notices, day, current = [], today.isoformat(), set()
    for a in found:
        if a.key in current:
            continue
        current.add(a.key)
        row = known.get(a.key)
        if row is None or row["closed_at"] is not None:
            con.execute("insert or replace into alerts_seen (key, rule, region_code, department, level, title, first_seen, "
                        "last_seen, closed_at, step) values (?, ?, ?, ?, ?, ?, ?, ?, null, 0)",
                        (a.key, a.rule, a.region_code, a.department, a.level, a.title, day, day))
            notices.append(Notice(a, 0, today, 0))
            continue
        first = dt.date.fromisoformat(row["first_seen"])
        due = step_due((today - first).days, after_days)
        notices += [Notice(a, s, first, (today - first).days) for s in range(row["step"] + 1, due + 1)]
        con.execute("update alerts_seen set last_seen = ?, level = ?, title = ?, step = max(step, ?) where key = ?",
                    (day, a.level, a.title, due, a.key))
    ended = [k for k, r in known.items() if r["closed_at"] is None and k not in current]
    con.executemany("update alerts_seen set closed_at = ? where key = ?", [(day, k) for k in ended])
    return notices, len(ended)


# --- addressing ---------------------------------------------------------------------------------

class Places:
    """"Area holds code" over the region tree (the importer's rule, scope.Area), and region names."""

    def __init__(self, tree):
        from minsheng.ingest import scope

        self.tree, self._area = tree, scope.Area

    def holds(self, area: str | None, code: str | None) -> bool:
        return bool(area and code) and self._area(self.tree, area).holds(code)

    def depth(self, code: str) -> int:
        return len(self.tree.path(code)) if code in self.tree else 0

    def name(self, code: str | None) -> str:
        return self.tree.names.get(code, code or "")


def places_of(directory: Path) -> Places:
    from minsheng.ingest import pipeline
    from minsheng.regions import Tree

    return Places(Tree(pipeline.table(directory, "regions")))


def _nearest(found: list[Contact], places: Places) -> list[Contact]:
    """The contacts of the nearest level among `found` (a township's 责任人 before the county's)."""
    if not found:
        return []
    deepest = max(places.depth(c.area) for c in found)
    return [c for c in found if places.depth(c.area) == deepest]


def contacts_for(cfg: Config, places: Places, notice: Notice) -> list[Contact]:
    """Who is told of `notice` at its step: the named owner whose area holds the region, else by duty,
    department and area."""
    a = notice.alert
    if notice.step == 0 and a.owner:
        # a 责任人 is free text of the task's region: a namesake whose area does not hold the region is not told
        inside = [c for c in cfg.contacts if c.name == a.owner and places.holds(c.area, a.region_code)]
        if inside:
            return inside
    duty = DUTIES[notice.step]
    same_dept = (lambda c: c.department in (None, a.department)) if notice.step == 2 else \
        (lambda c: c.department == a.department)
    return _nearest([c for c in cfg.contacts if c.duty == duty and same_dept(c)
                     and places.holds(c.area, a.region_code)], places)


def accounts_for(users: list[auth.User], places: Places, alert: Alert) -> list[str]:
    """The reviewers and admins whose area holds the alert's region (their 消息中心)."""
    return [u.name for u in users if not u.disabled and u.can("review") and places.holds(u.area, alert.region_code)]


def serves(ch: Channel, places: Places, region: str | None, department: str | None, kind: str) -> bool:
    """Whether a message of `kind` about `region` (and `department`) goes to channel `ch`."""
    if kind not in ch.kinds or not any(places.holds(a, region) for a in ch.areas):
        return False
    return not ch.departments or department in ch.departments


# --- digests ------------------------------------------------------------------------------------

@dataclass
class Digest:
    """What one recipient is told today (one message per channel)."""
    recipient: str               # a contact's name, or "群" for a channel's whole group
    duty: str | None
    region: str | None
    department: str | None
    email: str | None = None
    notices: list[Notice] = field(default_factory=list)

    def ordered(self) -> list[Notice]:
        return sorted(self.notices, key=lambda n: (LEVELS.index(n.alert.level) if n.alert.level in LEVELS else 9,
                                                   -n.step, n.alert.region_code, n.alert.title, n.alert.key))

    def idem(self, channel: str, day: dt.date) -> str:
        tags = "\n".join(sorted(n.tag for n in self.notices))
        h = hashlib.sha256(f"{channel}\n{self.recipient}\n{day}\n{tags}".encode("utf-8")).hexdigest()[:32]
        return f"digest:{day}:{h}"


def digests(cfg: Config, places: Places, notices: list[Notice]) -> tuple[list[Digest], list[Notice]]:
    """Notices grouped by contact; those without a contact are returned apart (their area's groups get them)."""
    by: dict[tuple, Digest] = {}
    nobody = []
    for n in notices:
        people = contacts_for(cfg, places, n)
        if not people:
            nobody.append(n)
        for c in people:
            d = by.setdefault((c.name, c.duty, c.area, c.department),
                              Digest(c.name, c.duty, c.area, c.department, c.email))
            d.notices.append(n)
    return list(by.values()), nobody


def _item_zh(n: Notice, places: Places) -> tuple[str, str]:
    """(label, text) of one item, plain text: where and which department, then the alert's own words."""
    a = n.alert
    where = "·".join(x for x in (places.name(a.region_code), a.department) if x)
    extra = f"（已持续 {n.days} 天未解决，升级至{n.duty}）" if n.step else ""
    return f"{a.title}（{where}）{extra}", a.text


def _head(d: Digest, day: dt.date) -> tuple[str, str]:
    severe = sum(n.alert.level == LEVELS[0] for n in d.notices)
    who = f"致 {d.recipient}（{d.duty}）：" if d.duty else ""
    return (f"预警日报（{day.isoformat()}）",
            f"{who}新增或升级的预警 {len(d.notices)} 条" + (f"，其中严重 {severe} 条" if severe else ""))


def _md_lines(d: Digest, places: Places, kind: str, cap: int, limit: int) -> tuple[list[str], int]:
    """Markdown item lines within `cap` items and `limit` bytes; how many were left out."""
    lines, used = [], 0
    items = d.ordered()
    for i, n in enumerate(items):
        label, text = _item_zh(n, places)
        level = channels.escape_markdown(n.alert.level)
        mark = f'<font color="warning">{level}</font>' if kind == "wecom" and n.alert.level == LEVELS[0] else level
        line = f"- 【{mark}】**{channels.escape_markdown(label)}**：{channels.escape_markdown(text)}"
        size = len(line.encode("utf-8")) + 1
        if i >= cap or used + size > limit:
            return lines, len(items) - i
        lines.append(line)
        used += size
    return lines, 0


def render(d: Digest, ch: Channel, places: Places, day: dt.date) -> dict:
    """The digest in `ch`'s wire format (webhook: without sent_at, added at send time)."""
    title, head = _head(d, day)
    if ch.type in ("wecom", "dingtalk"):
        lines, rest = _md_lines(d, places, ch.type, DIGEST_ITEMS, channels.WECOM_LIMIT - 600)
        tail = [f"另有 {rest} 条，{INBOX_HINT}"] if rest else [f"详情{INBOX_HINT}"]
        head_md = channels.escape_markdown(head)
        if ch.type == "wecom":
            return channels.wecom_body("\n".join([f"### {title}", head_md, *lines, *tail]))
        return channels.dingtalk_body(title, "\n\n".join([f"### {title}", head_md, *lines, *tail]))
    if ch.type == "webhook":
        return _json_digest(d, places, title, head)
    return _mail_digest(d, places, title, head)


def _json_digest(d: Digest, places: Places, title: str, head: str) -> dict:
    items = [dict(key=n.alert.key, rule=n.alert.rule, level=n.alert.level, title=n.alert.title, text=n.alert.text,
                  region=n.alert.region_code, region_name=places.name(n.alert.region_code),
                  department=n.alert.department, owner=n.alert.owner, step=n.step, duty=n.duty,
                  first_seen=n.first_seen.isoformat(), days_open=n.days) for n in d.ordered()]
    return dict(version=1, kind="alert", region=d.region, region_name=places.name(d.region),
                recipient=dict(name=d.recipient, duty=d.duty, department=d.department), title=title, text=head,
                items=items)


def _mail_digest(d: Digest, places: Places, title: str, head: str) -> dict:
    items = d.ordered()
    lines = [f"{i}. 【{n.alert.level}】{label}\n   {text}" for i, n in enumerate(items[:MAIL_ITEMS], 1)
             for label, text in [map(channels.one_line, _item_zh(n, places))]]
    rest = len(items) - MAIL_ITEMS
    body = "\n\n".join([head, *lines, *([f"另有 {rest} 条，{INBOX_HINT}。"] if rest > 0 else []),
                        f"详情{INBOX_HINT}。此邮件由民生指标看板自动发送。"])
    return dict(to=d.email, subject=f"【{title}】{head}", body=body)


def targets(cfg: Config, places: Places, d: Digest) -> list[Channel]:
    """The channels a contact's digest goes to: robots serving their area (and department), mail if they have an address."""
    out = []
    for ch in cfg.channels:
        if not serves(ch, places, d.region, d.department, "alert"):
            continue
        if ch.robot or (ch.type == "smtp" and d.email):
            out.append(ch)
    return out


def group_digests(cfg: Config, places: Places, nobody: list[Notice]) -> list[tuple[Channel, Digest]]:
    """Alerts nobody is named for go to every robot group serving their region (one digest per group)."""
    out: dict[str, tuple[Channel, Digest]] = {}
    for n in nobody:
        for ch in cfg.channels:
            if ch.robot and serves(ch, places, n.alert.region_code, n.alert.department, "alert"):
                out.setdefault(ch.id, (ch, Digest("群", None, ch.areas[0], None)))[1].notices.append(n)
    return list(out.values())


# --- the outbox ---------------------------------------------------------------------------------

def enqueue(con: sqlite3.Connection, ch: Channel, recipient: str, kind: str, region: str | None, payload: dict,
            idem: str, now: dt.datetime, attachment: tuple[str, bytes] | None = None) -> bool:
    """One row to send (inside the caller's transaction); False when the same idempotency key is queued already."""
    sha = None
    if attachment:
        sha = hashlib.sha256(attachment[1]).hexdigest()
        con.execute("insert or ignore into attachments (sha256, name, data) values (?, ?, ?)", (sha, attachment[0], attachment[1]))
    cur = con.execute("insert or ignore into outbox (channel, recipient, kind, region_code, payload, attachment, idem, created, "
                      "next_attempt_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (ch.id, recipient, kind, region, json.dumps(payload, ensure_ascii=False), sha, idem,
                       stamp(now), stamp(now)))
    return cur.rowcount == 1


def queue_alerts(con: sqlite3.Connection, cfg: Config, places: Places, users: list[auth.User], notices: list[Notice],
                 now: dt.datetime) -> tuple[list[tuple[str, int, str]], int]:
    """消息中心 messages and outbox digests for today's notices (inside the caller's transaction)."""
    day, created = aware(now).date(), []
    people, nobody = digests(cfg, places, notices)
    created += _inbox_alerts(con, cfg, places, users, notices, people, now)
    queued = 0
    for d in people:
        for ch in targets(cfg, places, d):
            queued += enqueue(con, ch, d.email if ch.type == "smtp" else d.recipient, "alert", d.region,
                              render(d, ch, places, day), d.idem(ch.id, day), now)
    for ch, d in group_digests(cfg, places, nobody):
        queued += enqueue(con, ch, d.recipient, "alert", d.region, render(d, ch, places, day), d.idem(ch.id, day), now)
    return created, queued


def _inbox_alerts(con, cfg: Config, places: Places, users, notices: list[Notice], people: list[Digest],
                  now: dt.datetime) -> list[tuple[str, int, str]]:
    accounts_of = {c.name: c.account for c in cfg.contacts if c.account}
    told: dict[str, set[str]] = {}
    for d in people:
        for n in d.notices:
            if accounts_of.get(d.recipient):
                told.setdefault(n.tag, set()).add(accounts_of[d.recipient])
    created = []
    for n in notices:
        label, text = _item_zh(n, places)
        for account in sorted(set(accounts_for(users, places, n.alert)) | told.get(n.tag, set())):
            mid = add_message(con, account, stamp(now), f"【{n.alert.level}】{label}", text, "alert", n.tag)
            if mid:
                created.append((account, mid, n.tag))
    return created


def backoff(attempts: int) -> int:
    """Seconds to wait after the `attempts`-th failed attempt."""
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


@dataclass
class Flushed:
    """What one flush did."""
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0   # due but held back by a robot's 20-a-minute window


def flush(directory: Path, cfg: Config, now: dt.datetime, *, source: str = "schedule", lock_timeout: float = 300) -> Flushed:
    """Send the due rows, oldest first, never more than a robot's `per_minute` in any 60 s (counted from the outbox, so
    every process and run shares the window); one flush at a time (a lock), each outcome committed and audited."""
    with held(directory, "outbox", lock_timeout, "另一个进程正在发送推送队列，请稍后再试"):
        con = connect(directory)
        try:
            return _flush(con, cfg, now, source)
        finally:
            con.close()


def _flush(con: sqlite3.Connection, cfg: Config, now: dt.datetime, source: str) -> Flushed:
    out, at = Flushed(), stamp(now)
    since = stamp(aware(now) - dt.timedelta(seconds=WINDOW))
    rows = con.execute("select id, channel, recipient, kind, payload, attachment, attempts from outbox "
                       "where status = 'pending' and next_attempt_at <= ? order by id", (at,)).fetchall()
    for row in rows:
        ch = cfg.channel(row["channel"])
        if ch is not None and ch.robot and _window(con, ch.id, since) >= ch.per_minute:
            out.waiting += 1
            continue
        result = _attempt(con, ch, row, now)
        _record(con, row, ch, result, now, source)
        if result.ok:
            out.sent += 1
        elif result.permanent or row["attempts"] + 1 >= MAX_ATTEMPTS:
            out.failed += 1
        else:
            out.retrying += 1
    return out


def _window(con: sqlite3.Connection, channel: str, since: str) -> int:
    return con.execute("select count(*) from outbox where channel = ? and last_attempt_at > ?", (channel, since)).fetchone()[0]


def _attempt(con: sqlite3.Connection, ch: Channel | None, row, now: dt.datetime) -> channels.Result:
    if ch is None:
        return channels.Result(False, f"渠道“{row['channel']}”已不在推送配置中", permanent=True)
    payload = json.loads(row["payload"])
    if ch.type == "webhook":
        payload = {**payload, "key": _idem(con, row["id"]), "sent_at": aware(now).isoformat(timespec="seconds")}
    attachment = None
    if row["attachment"]:
        a = con.execute("select name, data from attachments where sha256 = ?", (row["attachment"],)).fetchone()
        attachment = (a["name"], bytes(a["data"]))
    return channels.send(ch, payload, attachment)


def _idem(con: sqlite3.Connection, rid: int) -> str:
    return con.execute("select idem from outbox where id = ?", (rid,)).fetchone()[0]


def _record(con: sqlite3.Connection, row, ch: Channel | None, result: channels.Result, now: dt.datetime,
            source: str) -> None:
    attempts = row["attempts"] + 1
    status = "sent" if result.ok else ("failed" if result.permanent or attempts >= MAX_ATTEMPTS else "pending")
    nxt = aware(now) + dt.timedelta(seconds=0 if result.ok else backoff(attempts))
    with transaction(con):
        con.execute("update outbox set attempts = ?, last_attempt_at = ?, status = ?, last_error = ?, sent_at = ?, "
                    "next_attempt_at = ? where id = ?",
                    (attempts, stamp(now), status, result.error, stamp(now) if result.ok else None, stamp(nxt), row["id"]))
    audit.record("send", audit.os_user(), {"channel": row["channel"], "type": ch.type if ch else None,
                                           "recipient": row["recipient"], "kind": row["kind"], "outbox": row["id"],
                                           "attempt": attempts, "ok": result.ok, "status": status,
                                           "error": result.error}, source)


def retry(directory: Path, ids: list[int] | None, now: dt.datetime) -> int:
    """Put failed rows (these ids, or all) back in the queue, e.g. after a key was corrected. Returns how many."""
    con = connect(directory)
    try:
        with transaction(con):
            if ids is None:
                return con.execute("update outbox set status = 'pending', attempts = 0, next_attempt_at = ? "
                                   "where status = 'failed'", (stamp(now),)).rowcount
            return sum(con.execute("update outbox set status = 'pending', attempts = 0, next_attempt_at = ? "
                                   "where status = 'failed' and id = ?", (stamp(now), int(i))).rowcount for i in ids)
    finally:
        con.close()


def status(directory: Path, within=None) -> dict:
    """The outbox per channel and state, the failed rows, the open alerts and the last runs (`schedule status`).

    `within`: a predicate on a region code — only the rows of regions it holds (an admin limited to an area
    reads only that area's deliveries; the alert runs, counted over every region, are left out). None: all."""
    con = _reader(directory)
    if con is None:
        return dict(counts=[], failed=[], pending=[], alerts=dict(open=0, closed=0), runs=[])
    if within is None:
        def mine(code) -> bool:
            return True
    else:
        def mine(code) -> bool:
            return code is not None and bool(within(code))
    with closing(con):
        counts: dict[tuple[str, str], int] = {}
        for r in con.execute("select channel, status, region_code, count(*) as n from outbox "
                             "group by channel, status, region_code order by channel, status"):
            if mine(r["region_code"]):
                counts[(r["channel"], r["status"])] = counts.get((r["channel"], r["status"]), 0) + r["n"]
        counts_ = [dict(channel=c, status=s, n=n) for (c, s), n in sorted(counts.items())]
        failed = [{k: r[k] for k in ("id", "channel", "recipient", "kind", "attempts", "last_error", "last_attempt_at")}
                  for r in con.execute("select id, channel, recipient, kind, attempts, last_error, last_attempt_at, "
                                       "region_code from outbox where status = 'failed' order by id desc")
                  if mine(r["region_code"])][:50]
        pending = [{k: r[k] for k in ("id", "channel", "recipient", "attempts", "next_attempt_at", "last_error")}
                   for r in con.execute("select id, channel, recipient, attempts, next_attempt_at, last_error, region_code "
                                        "from outbox where status = 'pending' order by next_attempt_at")
                   if mine(r["region_code"])][:20]
        open_ = closed = 0
        for r in con.execute("select region_code, closed_at from alerts_seen"):
            if mine(r["region_code"]):
                open_, closed = open_ + (r["closed_at"] is None), closed + (r["closed_at"] is not None)
        runs = [dict(r) for r in con.execute("select job, done_at, note from runs order by done_at desc")
                if within is None or (r["job"].startswith("brief:") and mine(r["job"].split(":")[1]))][:20]
    return dict(counts=counts_, failed=failed, pending=pending, alerts=dict(open=open_, closed=closed), runs=runs)
