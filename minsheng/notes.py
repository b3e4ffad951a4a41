"""任务进展: a monthly progress note (进展情况) and its 责任人 for each task, kept per period with who and when.

A note belongs to a task — a target (indicator × region × year) — and a month of that year. It is written
by the task's department: an account that may report or review (auth.can "note"), whose area holds the
task's region. Notes are a side table of the versioned store (`task_notes`, store.SIDE): each save is a
commit, so every earlier note stays in the history and a rollback takes notes back with the data. A new
note for the same task and month replaces the old one on the pages and in the 专报 (the latest `seq`
wins); the old one is kept in the table with who wrote it and when.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from minsheng import auth, cycle, fields, store
from minsheng.ingest import pipeline, scope
from minsheng.regions import Tree

SCHEMA = {"indicator_id": "string", "region_code": "string", "year": "int64", "period": "date32",
          "department": "string", "task": "string", "progress": "string", "owner": "string", "seq": "int64",
          "actor": "string", "at": "string"}
PROGRESS_LIMIT = 500  # characters: a paragraph of a 专报, not a report of its own
OWNER_LIMIT = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


class NoteError(store.StoreError):
    """A note refused (the message is for the user, in Chinese); nothing was changed."""


@dataclass(frozen=True)
class Task:
    """The task a note is about: a target of the store, and the month the note reports on."""
    indicator_id: str
    region_code: str
    year: int
    month: int

    @property
    def period(self) -> dt.date:
        return dt.date(self.year, self.month, 1)


def table(directory: Path, folder: Path | None = None) -> pd.DataFrame:
    """Every note of the current version (or of `folder`), oldest first."""
    path = store.table_path(folder or store.resolve(directory), "task_notes")
    return fields.typed(pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=list(SCHEMA)), SCHEMA)


def latest(notes: pd.DataFrame) -> pd.DataFrame:
    """The note in force for each task and month: the last one written."""
    if notes.empty:
        return notes
    return notes.sort_values("seq", kind="stable").drop_duplicates(
        ["indicator_id", "region_code", "year", "period"], keep="last").reset_index(drop=True)


def of_month(directory: Path, region_code: str, year: int, month: int, folder: Path | None = None) -> pd.DataFrame:
    """The notes in force for a region's tasks in one month (a month without a note has none: an older
    note is not this month's progress)."""
    n = latest(table(directory, folder))
    return n[(n["region_code"] == region_code) & (n["year"] == int(year))
             & (n["period"] == dt.date(int(year), int(month), 1))].reset_index(drop=True)


def of_task(directory: Path, indicator_id: str, region_code: str, year: int,
            folder: Path | None = None) -> pd.DataFrame:
    """A task's notes of every month, newest month first, each month's replaced notes after its note in force."""
    n = table(directory, folder)
    n = n[(n["indicator_id"] == indicator_id) & (n["region_code"] == region_code) & (n["year"] == int(year))]
    return n.sort_values(["period", "seq"], ascending=False, kind="stable").reset_index(drop=True)


def clean(text, limit: int, what: str) -> str:
    """A note's text as one paragraph: runs of white space and line breaks folded to one space, control
    characters dropped (they cannot be written into a .docx), at most `limit` characters."""
    folded = " ".join(_CONTROL.sub(" ", str(text or "")).split())
    if len(folded) > limit:
        raise NoteError(f"{what}最多 {limit} 个字符，现有 {len(folded)} 个")
    return folded


def _target(directory: Path, task: Task) -> pd.Series:
    targets = pipeline.table(directory, "targets")
    found = targets[(targets["indicator_id"] == task.indicator_id) & (targets["region_code"] == task.region_code)
                    & (pd.to_numeric(targets["year"]) == task.year)]
    if found.empty:
        raise NoteError(f"{task.year} 年 {task.region_code} 没有指标 {task.indicator_id} 的目标任务，不能填写进展")
    return found.iloc[0]


def _may_write(actor: cycle.Actor, task: Task, tree: Tree) -> None:
    if not auth.can(actor.role, "note"):
        raise NoteError(f"{auth.ROLE_ZH[auth.Role.parse(actor.role)]}角色不能填写任务进展；须由填报员、审核员或管理员填写")
    area = scope.Area(tree, actor.area)
    if area.refusal:
        raise NoteError(area.refusal.replace("不能导入或回退", "不能填写任务进展"))
    if not area.holds(task.region_code):
        raise NoteError(f"{tree.names.get(task.region_code, task.region_code)}不在您的管辖范围（{area.name}）内，"
                        "不能填写它的任务进展")
    if not 1 <= task.month <= 12:
        raise NoteError(f"月份“{task.month}”应为 1–12")
    if task.period > cycle.clock().date():
        raise NoteError(f"{task.year}年{task.month}月尚未开始，不能填写进展")


def save(directory: Path, actor: cycle.Actor, task: Task, *, progress: str, owner: str = "", source: str,
         lock_timeout: float = 30) -> str:
    """Write the month's note of a task (replacing an earlier one of the same month on every page), audited;
    returns the new data version."""
    text, who = clean(progress, PROGRESS_LIMIT, "进展情况"), clean(owner, OWNER_LIMIT, "责任人")
    if not text:
        raise NoteError("进展情况不能为空")
    tree = Tree(pipeline.table(directory, "regions"))
    if task.region_code not in tree:
        raise NoteError(f"区划代码 {task.region_code} 不在区划表中")
    _may_write(actor, task, tree)
    target = _target(directory, task)
    detail = dict(indicator=task.indicator_id, region=task.region_code, period=f"{task.period:%Y-%m}")

    def do() -> str:
        with store.lock(directory, lock_timeout):
            notes = table(directory)
            seq = int(notes["seq"].max()) + 1 if len(notes) else 1
            row = dict(indicator_id=task.indicator_id, region_code=task.region_code, year=task.year,
                       period=task.period, department=target["department"], task=target["task"], progress=text,
                       owner=who or None, seq=seq, actor=actor.name, at=cycle.clock().isoformat(timespec="seconds"))
            new = fields.typed(pd.concat([notes, pd.DataFrame([row])], ignore_index=True) if len(notes)
                               else pd.DataFrame([row]), SCHEMA)
            label = f"{tree.names[task.region_code]}{task.year}年{task.month}月“{target['task']}”"
            return store.commit(directory, {"task_notes": new}, action="note", kind="note", user=actor.name,
                                note=f"任务进展 {label}", lock_timeout=lock_timeout, scope=tree.path(task.region_code))

    from minsheng import changes

    return changes._audited("note", actor.name, source, detail, do, directory=directory)


def may_write(actor: cycle.Actor | None, region_code: str, directory: Path) -> bool:
    """Whether the 目标 page offers this actor the note form for a region's tasks."""
    if actor is None or not auth.can(actor.role, "note"):
        return False
    tree = Tree(pipeline.table(directory, "regions"))
    area = scope.Area(tree, actor.area)
    return not area.refusal and area.holds(region_code)

