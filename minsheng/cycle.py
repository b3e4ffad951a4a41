"""The monthly reporting cycle: a 报表 × region × period goes 草稿 → 已上报 → 已通过 / 已退回 → …

    (未报) ──保存草稿──▶ 草稿 ──上报──▶ 已上报（待审核）──通过──▶ 已通过 ─┐
      │                  ▲                 │                           │
      └──────上报────────┼─────────────────┼──退回（须说明原因）──▶ 已退回
                         │                 ▲                           │
                         └──（重新）上报────┴───────────────────────────┘
                         已通过后再上报：须说明原因，重新进入审核（数据锁定，直到再次通过）

Who may do what (auth.can): a `reporter` saves drafts and submits for regions in their area at the
form's level; a `reviewer` approves or returns the submissions of the regions directly below their
area; an `admin` may do either anywhere in theirs. Nobody approves or returns what they submitted.

Where it is kept: two tables of the versioned store (store.SIDE) — `submissions`, the event log (one
row per 上报 / 通过 / 退回, with who, when and the reason), and `returns`, the figures each 上报 sent.
A submission's figures reach `observations` (what every page, chart and export reads) only when it is
approved, in the same commit as the approval, as a batch of its own (`batch_id` sub:<form>:<region>:
<period>:<n>). So upper levels see approved data by default, and a kill -9 at any step leaves the old
version or the new one whole (store.commit). Drafts are not data: one JSON file per draft under
<data>/drafts/, written atomically, removed by the 上报 that sends it.

Every figure goes through the importer's own validation (ingest/pipeline.prepare on a return built from
the cells), so the web form, an uploaded template and the command line give the same Chinese messages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from minsheng import audit, auth, fields, files, forms, lineage, store
from minsheng.ingest import cells, pipeline, scope
from minsheng.ingest.problems import Problem, error
from minsheng.regions import Tree

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")  # deadlines are days in China (no daylight saving)
clock = lambda: dt.datetime.now(CHINA)  # noqa: E731 — tests move it to a day of their choosing

NONE, DRAFT, SUBMITTED, APPROVED, RETURNED = "none", "draft", "submitted", "approved", "returned"
STATE_ZH = {NONE: "未报", DRAFT: "草稿", SUBMITTED: "已上报", APPROVED: "已通过", RETURNED: "已退回"}
EVENT_ZH = {"submit": "上报", "approve": "通过", "return": "退回", "reopen": "导入修改，重新审核"}
SENT = ("submit", "reopen")  # the events that send figures for review (a reopen sends what an import wrote)
REASON_LIMIT = 200
OBS = ("indicator_id", "region_code", "period", "value", "numerator", "denominator", "status", "source")
EVENTS = {"form_id": "string", "region_code": "string", "period": "date32", "seq": "int64", "event": "string",
          "state": "string", "actor": "string", "at": "string", "reason": "string", "batch_id": "string",
          "changed": "int64"}
RETURNS = {"form_id": "string", "seq": "int64", "indicator_id": "string", "region_code": "string",
           "period": "date32", "value": "float64", "numerator": "float64", "denominator": "float64",
           "status": "string", "source": "string"}


class CycleError(store.StoreError):
    """A step of the cycle that is refused; the message is for the user (Chinese). Nothing was changed."""


class Invalid(CycleError):
    """The figures do not pass the importer's checks: `problems` names each cell."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("；".join(f"{p.where()}：{p.message}" for p in problems[:5])
                         + (f"（共 {len(problems)} 处）" if len(problems) > 5 else "") + "。未上报")


@dataclass(frozen=True)
class Actor:
    """Who takes a step: a signed-in user's name, role and area (None: every region — the server's operator,
    or single-user mode; an empty or unknown area refuses every step, as it refuses imports)."""
    name: str
    role: auth.Role
    area: str | None = None

    @classmethod
    def of(cls, user: auth.User) -> Actor:
        # an account's empty area is no area, not the whole tree (scope.Area.refusal): fail closed
        return cls(user.name, user.role, user.area if user.area is not None else "")


@dataclass(frozen=True)
class Key:
    form_id: str
    region_code: str
    period: dt.date

    def label(self, form: forms.Form, tree: Tree | None = None) -> str:
        name = tree.names.get(self.region_code, self.region_code) if tree else self.region_code
        return f"{name}{forms.period_label(self.period, form.frequency)}“{form.name}”"

    @property
    def batch_prefix(self) -> str:
        return f"sub:{self.form_id}:{self.region_code}:{self.period:%Y-%m}"


@dataclass
class Status:
    key: Key
    state: str
    events: pd.DataFrame                       # this key's events, oldest first
    draft: dict | None = None                  # the saved draft, if any
    values: pd.DataFrame = field(default_factory=pd.DataFrame)  # the latest submission's figures

    @property
    def state_zh(self) -> str:
        return STATE_ZH[self.state]

    @property
    def last(self) -> dict | None:
        return None if self.events.empty else self.events.iloc[-1].to_dict()

    @property
    def submitted_by(self) -> str | None:
        """Who sent the figures under review: the reporter, or the admin whose import reopened the key
        (who therefore cannot approve them either)."""
        subs = self.events[self.events["event"].isin(SENT)]
        return None if subs.empty else subs.iloc[-1]["actor"]

    @property
    def submitted_at(self) -> dt.datetime | None:
        subs = self.events[self.events["event"] == "submit"]
        return None if subs.empty else dt.datetime.fromisoformat(subs.iloc[-1]["at"])

    @property
    def ever_approved(self) -> bool:
        return bool((self.events["event"] == "approve").any())


# --- reading -----------------------------------------------------------------------------------

def _read(folder: Path, name: str, schema: dict) -> pd.DataFrame:
    path = store.table_path(folder, name)
    return fields.typed(pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=list(schema)), schema)


def events(directory: Path, folder: Path | None = None) -> pd.DataFrame:
    """Every submission event of the current version, oldest first."""
    return _read(folder or store.resolve(directory), "submissions", EVENTS)


def returns(directory: Path, folder: Path | None = None) -> pd.DataFrame:
    return _read(folder or store.resolve(directory), "returns", RETURNS)


def _of(df: pd.DataFrame, key: Key) -> pd.DataFrame:
    return df[(df["form_id"] == key.form_id) & (df["region_code"] == key.region_code) & (df["period"] == key.period)]


def state_of(key_events: pd.DataFrame, draft: dict | None = None) -> str:
    """The state after a key's events; a draft shows only before the first 上报 (after one, the draft is
    work on the next 上报 and the state stays what the last event made it)."""
    if key_events.empty:
        return DRAFT if draft else NONE
    return key_events.iloc[-1]["state"]


def status(directory: Path, key: Key, folder: Path | None = None) -> Status:
    folder = folder or store.resolve(directory)
    ev = _of(events(directory, folder), key).sort_values("seq")
    draft = read_draft(directory, key)
    st = state_of(ev, draft)
    values = pd.DataFrame(columns=list(RETURNS))
    subs = ev[ev["event"].isin(SENT)]
    if not subs.empty:
        rt = _of(returns(directory, folder), key)
        values = rt[rt["seq"] == int(subs.iloc[-1]["seq"])]
    return Status(key, st, ev.reset_index(drop=True), draft, values.reset_index(drop=True))


def states(directory: Path, folder: Path | None = None) -> pd.DataFrame:
    """The latest event of every key (form_id, region_code, period, state, seq, actor, at, submitted_at,
    submitted_by): one row per submission that has ever been sent."""
    ev = events(directory, folder)
    if ev.empty:
        return pd.DataFrame(columns=["form_id", "region_code", "period", "state", "seq", "actor", "at", "reason",
                                     "submitted_at", "submitted_by", "approved_once"])
    ev = ev.sort_values(["form_id", "region_code", "period", "seq"])
    keys = ["form_id", "region_code", "period"]
    last = ev.groupby(keys, sort=False).tail(1).set_index(keys)
    # a reporter's 上报 only: an import's reopen is not the region's return, and must not make it late (progress.py)
    subs = ev[ev["event"] == "submit"].groupby(keys, sort=False).tail(1).set_index(keys)
    out = last[["state", "seq", "actor", "at", "reason"]].copy()
    # when the return came in: its first 上报 since it was last sent back (a correction after an approval
    # does not make a return that came in on time late; a return sent back and sent again is as late as
    # the second sending)
    back = ev[ev["event"] == "return"].groupby(keys)["seq"].max().rename("back")
    since = ev[ev["event"] == "submit"].join(back, on=keys)
    since = since[since["seq"] > since["back"].fillna(0)].groupby(keys, sort=False).head(1).set_index(keys)
    out["submitted_at"] = since["at"].reindex(out.index).fillna(subs["at"].reindex(out.index))
    out["submitted_by"] = subs["actor"].reindex(out.index)
    out["approved_once"] = ev[ev["event"] == "approve"].groupby(keys).size().reindex(out.index).fillna(0) > 0
    return out.reset_index()


# --- drafts ------------------------------------------------------------------------------------

def _draft_path(directory: Path, key: Key) -> Path:
    name = hashlib.sha256(f"{key.form_id}|{key.region_code}|{key.period.isoformat()}".encode()).hexdigest()[:24]
    return Path(directory) / "drafts" / f"{name}.json"


def read_draft(directory: Path, key: Key) -> dict | None:
    """The saved draft of `key`, or None — also for a file that is not a draft of ours (torn, edited by
    hand, another key's, not a file): a draft is a convenience, never a reason to refuse a step."""
    path = _draft_path(directory, key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), dict):
        return None
    same = (data.get("form_id"), data.get("region_code"), data.get("period")) == \
        (key.form_id, key.region_code, key.period.isoformat())
    return {**data, "cells": _clean_cells(data["cells"])} if same else None


def _clean_cells(cells_in: dict) -> dict[str, dict[str, str]]:
    if not isinstance(cells_in, dict):
        raise CycleError("填报的数值应为“指标编码 → 数值”的对应表")
    out = {}
    for iid, c in cells_in.items():
        c = c if isinstance(c, dict) else {"value": c}
        out[str(iid)] = {k: ("" if c.get(k) is None or (isinstance(c.get(k), float) and pd.isna(c.get(k)))
                             else str(c.get(k)))[:100] for k in ("value", "numerator", "denominator") if k in c}
    return out


# --- the checks every step makes -----------------------------------------------------------------

def _tree(directory: Path) -> Tree:
    return Tree(pipeline.table(directory, "regions"))


def _in_area(actor: Actor, code: str, tree: Tree) -> bool:
    return scope.Area(tree, actor.area).holds(code)


def _context(directory: Path, key: Key) -> tuple[forms.Form, Tree]:
    try:
        form = forms.get(directory, key.form_id)
        if not isinstance(key.period, dt.date) or isinstance(key.period, dt.datetime):
            raise forms.FormError(f"时期“{key.period}”应为日期（时期的第一天）")
        form.period_of(key.period)
    except forms.FormError as e:  # every refusal of the cycle is a CycleError, whoever calls it
        raise CycleError(str(e)) from None
    tree = _tree(directory)
    if key.region_code not in tree:
        raise CycleError(f"区划代码 {key.region_code} 不在区划表中")
    if tree.levels.get(key.region_code) != form.level:
        raise CycleError(f"报表“{form.name}”由{_level_zh(form.level)}填报，{tree.names[key.region_code]}"
                         f"是{_level_zh(tree.levels[key.region_code])}")
    if not form.owed_by(tree, key.region_code):
        raise CycleError(f"报表“{form.name}”由{tree.names.get(form.issued_by, form.issued_by)}下发，"
                         f"{tree.names[key.region_code]}不在其范围内，不需填报")
    if key.period != form.period_of(key.period) or not form.active(key.period):
        raise CycleError(f"报表“{form.name}”在{forms.period_label(key.period, form.frequency)}不需填报")
    regions = pipeline.table(directory, "regions")
    row = regions[regions["code"] == key.region_code].iloc[0]
    if not lineage.valid_on(row.get("valid_from"), row.get("valid_to"), lineage.period_end(key.period, form.frequency)):
        raise CycleError(f"区划 {key.region_code}（{row['name']}）在{forms.period_label(key.period, form.frequency)}"
                         "末已停用或尚未启用，不需填报")
    return form, tree


def _level_zh(level: str) -> str:
    from minsheng import vocab

    return vocab.LEVELS.label(level)


def _refuse_no_area(actor: Actor, tree: Tree) -> None:
    refusal = scope.Area(tree, actor.area).refusal
    if refusal:
        raise CycleError(refusal.replace("不能导入或回退", "不能填报或审核"))


def _may_report(actor: Actor, key: Key, form: forms.Form, tree: Tree) -> None:
    if not auth.can(actor.role, "submit"):
        raise CycleError(f"{auth.ROLE_ZH[auth.Role.parse(actor.role)]}角色不能填报；填报须由填报员或管理员进行")
    _refuse_no_area(actor, tree)
    if not _in_area(actor, key.region_code, tree):
        raise CycleError(f"{tree.names.get(key.region_code, key.region_code)}不在您的管辖范围"
                         f"（{scope.Area(tree, actor.area).name}）内，不能为它填报")
    today = clock().date()
    if key.period > today:
        raise CycleError(f"{forms.period_label(key.period, form.frequency)}尚未开始，不能填报")


def _may_review(actor: Actor, st: Status, tree: Tree, verb: str) -> None:
    key = st.key
    if not auth.can(actor.role, "review"):
        raise CycleError(f"{auth.ROLE_ZH[auth.Role.parse(actor.role)]}角色不能审核；审核须由审核员或管理员进行")
    name = tree.names.get(key.region_code, key.region_code)
    _refuse_no_area(actor, tree)
    if auth.Role.parse(actor.role) == auth.Role.admin:
        if not _in_area(actor, key.region_code, tree):
            raise CycleError(f"{name}不在您的管辖范围内，不能{verb}")
    elif tree.parent.get(key.region_code) is None:  # a top region has no level above it: an admin reviews it
        raise CycleError(f"{name}没有上一级区划，它的上报只能由管理员审核，不能{verb}")
    elif tree.parent.get(key.region_code) != actor.area:
        raise CycleError(f"{name}的上报由其上一级（{tree.names.get(tree.parent.get(key.region_code), '上级')}）审核，"
                         f"您的范围是{scope.Area(tree, actor.area).name}，不能{verb}")
    if st.state == APPROVED:
        raise CycleError(f"{name}的这份上报已经通过审核，不能重复{verb}")
    if st.state == RETURNED:
        raise CycleError(f"{name}的这份上报已退回，等待重新上报，不能{verb}")
    if st.state != SUBMITTED:
        raise CycleError(f"{name}尚未上报，没有可{verb}的数据")
    if st.submitted_by == actor.name:
        raise CycleError(f"不能{verb}本人上报的数据（上报人 {actor.name}）：须由另一位审核员{verb}")


def _reason(text) -> str:
    """A reason as it is kept and shown: one line (line breaks and tabs folded into one space, so no reason
    can start a line of its own in the command line's listing or a log), no hidden characters, at most
    REASON_LIMIT characters. Markup and formula-leading text are kept as written: every output escapes or
    neutralises them (ui/text.md, safe_cells)."""
    folded = re.sub(r"[ \t]*[\r\n\t\u2028\u2029]+[ \t]*", " ", "" if text is None else str(text))
    value, msg = cells.text(REASON_LIMIT)(folded)
    if msg:
        raise CycleError(f"原因：{msg}")
    if not value or not value.strip():
        raise CycleError("须填写原因")
    return value.strip()


# --- the return built from a form's cells, checked by the importer -------------------------------

def sent_indicators(form: forms.Form, cells_in: dict) -> list[str]:
    """The form's indicators a web return sends, in order: row n + 2 of its CSV is the n-th of them. An
    indicator left wholly blank is a row not sent (the check names it as missing)."""
    got = _clean_cells(cells_in)
    return [iid for iid in form.indicators if any(v.strip() for v in got.get(iid, {}).values())]


def return_csv(form: forms.Form, key: Key, cells_in: dict, source: str = "") -> bytes:
    """A long return (the import template's columns) with one row per indicator of the form, in its order:
    what the web form sends to the importer (sent_indicators: which, and their rows)."""
    period = {"month": f"{key.period:%Y-%m}", "quarter": f"{key.period.year}年第{(key.period.month - 1) // 3 + 1}季度"
              }.get(form.frequency, str(key.period.year))
    got = _clean_cells(cells_in)
    sent = sent_indicators(form, cells_in)
    df = pd.DataFrame([{"指标编码": iid, "区划代码": key.region_code, "时期": period,
                        "数值": got.get(iid, {}).get("value", ""), "分子": got.get(iid, {}).get("numerator", ""),
                        "分母": got.get(iid, {}).get("denominator", ""), "来源": source}
                       for iid in sent], columns=["指标编码", "区划代码", "时期", "数值", "分子", "分母", "来源"])
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8-sig")


def check(directory: Path, actor: Actor, key: Key, *, cells_in: dict | None = None, data: bytes | None = None,
          file: str | None = None, source: str = "") -> pipeline.Plan:
    """The importer's plan for a return: from the form's cells or an uploaded file (the filled template).
    Its problems name the file, row and column; a row outside the form, region or period, or an indicator
    of the form missing, is one more problem. Nothing is written."""
    form, tree = _context(directory, key)
    label = f"填报：{form.name}".replace("/", "／").replace("\\", "＼")  # a file label, never a path
    if data is None:
        data, file = return_csv(form, key, cells_in or {}, source or f"{tree.names[key.region_code]}填报"), label + ".csv"
    plan = pipeline.prepare(data, file or label, directory, kind="observations", area=actor.area)
    if plan.errors or plan.rows.empty:
        return plan
    wrong = []
    rows = plan.rows
    for r in rows.to_dict("records"):
        where = dict(sheet=r.get("_sheet"), row=r.get("_row"))
        if r["indicator_id"] not in form.indicators:
            wrong.append(error(plan.file, f"指标 {r['indicator_id']} 不属于报表“{form.name}”", column="指标编码", **where))
        elif r["region_code"] != key.region_code:
            wrong.append(error(plan.file, f"区划 {r['region_code']} 不是本次填报的区划"
                               f"（{tree.names[key.region_code]} {key.region_code}）", column="区划代码", **where))
        elif pd.Timestamp(r["period"]).date() != key.period:
            wrong.append(error(plan.file, f"时期不是本次填报的{forms.period_label(key.period, form.frequency)}",
                               column="时期", **where))
    have = set(rows["indicator_id"])
    names = pipeline.table(directory, "indicators").set_index("id")["name_zh"]
    for iid in form.indicators:
        if iid not in have:
            wrong.append(error(plan.file, f"缺少指标“{names.get(iid, iid)}”（{iid}）的数值：报表的每个指标都须填报"))
    plan.problems.extend(wrong)
    return plan


# --- steps --------------------------------------------------------------------------------------

def _now() -> str:
    return clock().isoformat(timespec="seconds")


def _event(key: Key, seq: int, event: str, state: str, actor: Actor, reason: str | None = None,
           batch_id: str | None = None, changed: int = 0) -> dict:
    return dict(form_id=key.form_id, region_code=key.region_code, period=key.period, seq=seq, event=event, state=state,
                actor=actor.name, at=_now(), reason=reason, batch_id=batch_id, changed=changed)


def _append(df: pd.DataFrame, rows: list[dict], schema: dict) -> pd.DataFrame:
    new = fields.typed(pd.DataFrame(rows), schema)
    return fields.typed(pd.concat([df, new], ignore_index=True) if len(df) else new, schema)


def _audited(action: str, actor: Actor, source: str, detail: dict, do, directory: Path | None = None) -> str:
    from minsheng import changes

    return changes._audited(action, actor.name, source, detail, do, directory=directory)


def _scope(key: Key, tree: Tree) -> list[str]:
    return tree.path(key.region_code)


def save_draft(directory: Path, actor: Actor, key: Key, cells_in: dict, *, source: str) -> dict:
    """Keep a reporter's cells as they are (not checked: a draft may be half done), with who and when."""
    form, tree = _context(directory, key)
    _may_report(actor, key, form, tree)
    st = status(directory, key)
    if st.state == SUBMITTED:
        raise CycleError("已上报，正在等待审核，不能修改；如需修改请联系审核人退回")
    data = dict(form_id=key.form_id, region_code=key.region_code, period=key.period.isoformat(),
                cells=_clean_cells(cells_in), saved_by=actor.name, saved_at=_now(),
                after_seq=int(st.events.iloc[-1]["seq"]) if len(st.events) else 0)
    path = _draft_path(directory, key)
    with audit.change("draft", actor.name, dict(form=key.form_id, region=key.region_code,
                                                period=key.period.isoformat()), source):
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_json(path, data)
    return data


def submit(directory: Path, actor: Actor, key: Key, *, cells_in: dict | None = None, data: bytes | None = None,
           file: str | None = None, reason: str | None = None, accept_warnings: bool = False, source: str,
           lock_timeout: float = 30) -> str:
    """上报: the figures checked by the importer, then the event and the figures in one commit. After an
    approval the period is locked: a new 上报 needs `reason` and goes back to review. Returns the version."""
    form, tree = _context(directory, key)
    _may_report(actor, key, form, tree)
    # a reason is optional unless the key is approved; a blank one is none, a bad one is refused before anything
    why = _reason(reason) if reason is not None and str(reason).strip() else None
    detail = dict(form=key.form_id, region=key.region_code, period=key.period.isoformat(),
                  **({"file": cells.file_label(file)} if file else {}), **({"reason": why} if why else {}))

    def do() -> str:
        with store.lock(directory, lock_timeout):
            st = status(directory, key)
            if st.state == SUBMITTED:
                raise CycleError("已上报，正在等待审核；如需修改请联系审核人退回")
            if st.state == APPROVED and not why:
                raise CycleError(f"{key.label(form, tree)}已通过审核并锁定：修改须填写原因，修改后重新审核")
            plan = check(directory, actor, key, cells_in=cells_in, data=data, file=file)
            if plan.errors:
                raise Invalid(plan.errors)
            if plan.warnings and not accept_warnings:
                raise Invalid(plan.warnings)
            seq = int(st.events["seq"].max()) + 1 if len(st.events) else 1
            rows = plan.rows[[c for c in OBS if c in plan.rows]].copy()
            rows["form_id"], rows["seq"] = key.form_id, seq
            n_changed = _changed_count(directory, rows)
            ev = _append(events(directory), [_event(key, seq, "submit", SUBMITTED, actor, why, changed=n_changed)],
                         EVENTS)
            rt = _append(returns(directory), rows.to_dict("records"), RETURNS)
            version = store.commit(directory, {"submissions": ev, "returns": rt}, action="submit", kind="submission",
                                   file_name=plan.file, file_sha256=plan.sha256, user=actor.name,
                                   note=f"上报 {key.label(form, tree)}（第 {seq} 次）" + (f"，原因：{why}" if why else ""),
                                   lock_timeout=lock_timeout, scope=_scope(key, tree))
            _draft_path(directory, key).unlink(missing_ok=True)
            return version

    return _audited("submit", actor, source, detail, do, directory)


def approve(directory: Path, actor: Actor, key: Key, *, source: str, lock_timeout: float = 30) -> str:
    """通过: the submission's figures written into the data as one batch, with the event, in one commit."""
    form, tree = _context(directory, key)

    def do() -> str:
        with store.lock(directory, lock_timeout):
            st = status(directory, key)
            _may_review(actor, st, tree, "审核通过")
            seq = int(st.events["seq"].max()) + 1
            batch = f"{key.batch_prefix}:{int(st.last['seq']) if st.last else seq}"
            rows = st.values[list(OBS)].copy()
            rows["batch_id"] = batch
            rows["period"] = pd.to_datetime(rows["period"]).dt.date
            ev = _append(events(directory), [_event(key, seq, "approve", APPROVED, actor, batch_id=batch,
                                                    changed=_changed_count(directory, rows))], EVENTS)
            meta_update = pipeline.data_date_update(directory, rows["period"])
            return store.commit(directory, {"submissions": ev}, observations=_aligned(directory, rows),
                                action="approve", kind="submission", user=actor.name, meta_update=meta_update,
                                note=f"审核通过 {key.label(form, tree)}（批次 {batch}）", lock_timeout=lock_timeout,
                                scope=_scope(key, tree))

    return _audited("approve", actor, source, dict(form=key.form_id, region=key.region_code,
                                                   period=key.period.isoformat()), do, directory)


def send_back(directory: Path, actor: Actor, key: Key, *, reason: str, source: str, lock_timeout: float = 30) -> str:
    """退回（原因）: the submission goes back to its reporter; the data are untouched."""
    form, tree = _context(directory, key)
    why = _reason(reason)

    def do() -> str:
        with store.lock(directory, lock_timeout):
            st = status(directory, key)
            _may_review(actor, st, tree, "退回")
            seq = int(st.events["seq"].max()) + 1
            ev = _append(events(directory), [_event(key, seq, "return", RETURNED, actor, why)], EVENTS)
            return store.commit(directory, {"submissions": ev}, action="return", kind="submission", user=actor.name,
                                note=f"退回 {key.label(form, tree)}，原因：{why}", lock_timeout=lock_timeout,
                                scope=_scope(key, tree))

    return _audited("return", actor, source, dict(form=key.form_id, region=key.region_code,
                                                  period=key.period.isoformat(), reason=why), do, directory)


# --- approved periods locked against imports --------------------------------------------------------

@dataclass(frozen=True)
class Locked:
    """An approved 报表 × region × period an import would change: its key, the form's name and a label."""
    key: Key
    form_name: str
    label: str          # 甲一镇2023年4月“民政月报”
    changed: int        # how many of its figures the import changes


def locked(directory: Path, rows: pd.DataFrame) -> list[Locked]:
    """The approved keys that observation `rows` (indicator_id, region_code, period, value, …) would change:
    a row of an indicator of an approved form, for its region and period, whose value, numerator,
    denominator or status differ from the data's (a row re-sending the same figures changes nothing and
    locks nothing). Read against the current version; the import commit checks again under the lock."""
    need = {"indicator_id", "region_code", "period"}
    if rows is None or rows.empty or not need <= set(rows.columns):
        return []
    st = states(directory)
    st = st[st["state"] == APPROVED]
    if st.empty:
        return []
    catalogue = forms.load(directory)
    keys = pd.DataFrame([dict(form_id=r.form_id, region_code=r.region_code, period=r.period, indicator_id=i)
                         for r in st.itertuples(index=False) if r.form_id in catalogue
                         for i in catalogue[r.form_id].indicators])
    if keys.empty:
        return []
    mine = rows[[c for c in ("indicator_id", "region_code", "period", "value", "numerator", "denominator", "status")
                 if c in rows.columns]].copy()
    mine["period"] = pd.to_datetime(mine["period"]).dt.date
    hit = mine.merge(keys, on=["indicator_id", "region_code", "period"])
    if hit.empty:
        return []
    now = _current_rows(directory, hit)
    hit = hit.merge(now, on=["indicator_id", "region_code", "period"], how="left", suffixes=("", "_now"))
    differs = pd.Series(False, index=hit.index)
    for c in ("value", "numerator", "denominator", "status"):
        if c in hit and f"{c}_now" in hit:
            a, b = hit[c], hit[f"{c}_now"]
            same = (a.isna() & b.isna()) | (a.astype(str) == b.astype(str)) if c == "status" else \
                (a.isna() & b.isna()) | ((pd.to_numeric(a) - pd.to_numeric(b)).abs() <= 1e-9).fillna(False)
            differs |= ~same.astype(bool)
    hit = hit[differs]
    tree = _tree(directory)
    out = []
    for (fid, code, period), g in hit.groupby(["form_id", "region_code", "period"], sort=True):
        key = Key(fid, code, period)
        out.append(Locked(key, catalogue[fid].name, key.label(catalogue[fid], tree), len(g)))
    return out


def locked_message(found: list[Locked], limit: int = 5) -> str:
    """What an import that changes approved figures is told (Chinese, at most `limit` keys named)."""
    names = "、".join(x.label for x in found[:limit]) + (f"等 {len(found)} 份" if len(found) > limit else "")
    return (f"本次导入会修改已审核通过并锁定的报表数据：{names}。修改须填写原因，提交后这些报表重新进入审核")


def reopening(directory: Path, found: list[Locked], rows: pd.DataFrame, actor: str | None, reason) -> dict:
    """The submissions and returns tables with a "reopen" event for each locked key an import changes: the
    key goes back to 已上报 (pending review), with the reason and the importing admin as the sender, and
    its figures as they will be after the import (the import's rows over the data's), so what the reviewer
    approves is what the data then hold. For the import's own commit (changes.commit)."""
    why = _reason(reason)
    ev, rt = events(directory), returns(directory)
    mine = rows.copy()
    mine["period"] = pd.to_datetime(mine["period"]).dt.date
    who = Actor(actor or "", auth.Role.admin)
    new_ev, new_rt = [], []
    for x in found:
        form = forms.get(directory, x.key.form_id)
        seq = int(_of(ev, x.key)["seq"].max()) + 1
        wanted = pd.DataFrame({"indicator_id": list(form.indicators), "region_code": x.key.region_code,
                               "period": x.key.period})
        now = _current_rows(directory, wanted).set_index("indicator_id")
        sent = mine.merge(wanted, on=["indicator_id", "region_code", "period"]).set_index("indicator_id")
        for iid in form.indicators:
            src = sent if iid in sent.index else now if iid in now.index else None
            if src is None:
                continue
            r = src.loc[iid]
            new_rt.append(dict(form_id=x.key.form_id, seq=seq, indicator_id=iid, region_code=x.key.region_code,
                               period=x.key.period, **{c: r.get(c) for c in ("value", "numerator", "denominator",
                                                                             "status", "source")}))
        new_ev.append(_event(x.key, seq, "reopen", SUBMITTED, who, why, changed=x.changed))
    return {"submissions": _append(ev, new_ev, EVENTS), "returns": _append(rt, new_rt, RETURNS)}


def _current_rows(directory: Path, keys: pd.DataFrame) -> pd.DataFrame:
    """The data's rows now (value, numerator, denominator, status, source) for the keys of `keys`."""
    from minsheng import observations as obs

    cols = ["indicator_id", "region_code", "period", "value", "numerator", "denominator", "status", "source"]
    path = store.table_path(store.resolve(directory), "observations")
    if not path.exists() or keys.empty:
        return pd.DataFrame(columns=cols)
    like = pipeline.table_like(directory, "observations")
    found = obs.existing(path, pipeline.align(keys[["indicator_id", "region_code", "period"]].drop_duplicates(), like))
    found["period"] = pd.to_datetime(found["period"]).dt.date
    return found[cols]


# --- comparing ------------------------------------------------------------------------------------

def _aligned(directory: Path, rows: pd.DataFrame) -> pd.DataFrame:
    like = pipeline.table_like(directory, "observations")
    return pipeline.align(rows, like)


def _current_values(directory: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """The data's values now for the (indicator, region, period) of `rows`."""
    from minsheng import observations as obs

    path = store.table_path(store.resolve(directory), "observations")
    if not path.exists() or rows.empty:
        return pd.DataFrame(columns=["indicator_id", "region_code", "period", "value", "numerator", "denominator"])
    like = pipeline.table_like(directory, "observations")
    found = obs.existing(path, pipeline.align(rows, like))
    return found[["indicator_id", "region_code", "period", "value", "numerator", "denominator"]]


def _changed_count(directory: Path, rows: pd.DataFrame) -> int:
    return int(compare(directory, rows)["changed"].sum()) if len(rows) else 0


def compare(directory: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """Each submitted figure beside the data's value now (what the last approval, or an import, put there):
    indicator_id, value, current, changed."""
    cur = _current_values(directory, rows)
    a = rows[["indicator_id", "region_code", "period", "value"]].copy()
    a["period"] = pd.to_datetime(a["period"]).dt.date
    cur = cur.assign(period=pd.to_datetime(cur["period"]).dt.date).rename(columns={"value": "current"})
    out = a.merge(cur[["indicator_id", "region_code", "period", "current"]], how="left",
                  on=["indicator_id", "region_code", "period"])
    out["changed"] = ~((out["value"] == out["current"]) | (out["value"].isna() & out["current"].isna()))
    return out


def since_approval(directory: Path, key: Key) -> pd.DataFrame:
    """What the pending submission changes against the data as last approved: indicator_id, value, current,
    changed (empty when nothing is pending)."""
    st = status(directory, key)
    if st.state != SUBMITTED or st.values.empty:
        return pd.DataFrame(columns=["indicator_id", "value", "current", "changed"])
    return compare(directory, st.values)[["indicator_id", "value", "current", "changed"]]


def neighbours(directory: Path, key: Key, form: forms.Form) -> pd.DataFrame:
    """For review: the region's value last period and a year before, per indicator of the form."""
    from minsheng import repo

    step = {"month": 1, "quarter": 3}.get(form.frequency, 12)
    n = key.period.year * 12 + key.period.month - 1 - step
    prev = dt.date(n // 12, n % 12 + 1, 1)
    year_ago = dt.date(key.period.year - 1, key.period.month, 1)
    got = repo.series(list(form.indicators), [key.region_code], min(prev, year_ago), max(prev, year_ago),
                      directory=directory)
    got["period"] = got["period"].dt.date
    out = pd.DataFrame({"indicator_id": list(form.indicators)})
    for col, when in (("last_period", prev), ("last_year", year_ago)):
        at = got[got["period"] == when].set_index("indicator_id")["value"]
        out[col] = out["indicator_id"].map(at)
    return out
