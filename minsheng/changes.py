"""Every change to the data, audited: commit an import, commit boundaries, roll back.

The 导入 page and the command line both come here. Each call records its intent before the change
(and refuses, changing nothing, when that cannot be written) and its outcome after — `ok` and the
new version, or `ok: false` and the error (audit.change) — and then returns the version or raises
what the store raised, so no path can commit without a record or fail without one.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import pandas as pd

from minsheng import audit, store
from minsheng.ingest import geo, pipeline, scope, start
from minsheng.ingest.problems import error
from minsheng.regions import Tree


class OutOfArea(store.StoreError):
    """A change the user's area does not cover: refused, audited, and the data left as it was."""


def _regions(directory: Path | None) -> pd.DataFrame:
    """Every region of the current version (the importer checks against the whole tree); none before a store."""
    return pipeline.table(directory or store.data_dir(), "regions")


def area(code: str | None, directory: Path | None = None) -> scope.Area:
    """A user's area (None: the whole tree) against the current version's region tree."""
    return scope.Area(Tree(_regions(directory)), code)


def check_boundaries(payload: bytes, name: str, *, crs: str | None, code: str | None = None,
                     user_area: str | None = None, directory: Path | None = None) -> tuple[dict, list]:
    """A boundary file read against every region (geo.read_boundaries), with an error for each
    feature outside `user_area` — named, not silently left out."""
    regions = _regions(directory)
    need = start.missing(start.BOUNDARIES, {"regions": len(regions)})
    if need:
        return {}, [error(name, need)]
    levels, problems = geo.read_boundaries(payload, regions, crs=crs, code=code, display_name=name)
    return levels, problems + scope.boundaries(levels, scope.Area(Tree(regions), user_area), name)


def _audited(action: str, actor: str | None, source: str, detail: dict, do, done=lambda version: {},
             directory: Path | None = None) -> str:
    try:
        with audit.change(action, actor, detail, source) as outcome:  # intent first, outcome after
            version = do()
            outcome.update(done(version), version=version)
    except audit.AuditError as e:  # the intent could not be written: nothing was changed
        raise store.StoreError(str(e)) from None
    if directory is not None and version:  # 预警 are evaluated after every commit (minsheng/schedule.py)
        from minsheng import schedule  # late: the rules and delivery are not needed to make a change

        schedule.after_commit_in_background(directory, source)
    return version


def init(directory: Path, *, actor: str | None, source: str) -> None:
    """Create an empty store in a blank directory (`python -m minsheng init`, or the first import), audited."""
    with audit.change("init", actor, {"tables": list(store.TABLES)}, source):
        store.create(directory, start.empty_tables(), dict(start.META))


def commit(plan: pipeline.Plan, *, actor: str | None, source: str, accept_warnings: bool = False,
           directory: Path | None = None, reason: str | None = None) -> str:
    """Write an import's plan as a new data version (pipeline.commit), audited; the first import into a
    blank directory creates the store there first.

    Approved returns are locked (cycle.locked): an import whose rows change an approved 报表 × region ×
    period is refused (cycle.CycleError, nothing changed) unless `reason` says why; with one, the same
    commit reopens each such key for review (a "reopen" event, audited per key) — checked again under the
    commit lock, so an approval landing after the preview is not overwritten silently."""
    from minsheng import cycle

    directory = directory or store.data_dir()
    why = cycle._reason(reason) if reason is not None and str(reason).strip() else None
    if store.blank(directory) and not plan.errors and (accept_warnings or not plan.warnings):
        try:
            init(directory, actor=actor, source=source)
        except audit.AuditError as e:
            raise store.StoreError(str(e)) from None
        except store.StoreError:
            if not store.exists(directory):  # else another import created it first: commit into that
                raise
    detail = dict(kind=plan.kind, file=plan.file, sha256=plan.sha256, warnings=len(plan.warnings),
                  **({"area": plan.area} if plan.area is not None else {}), **({"reason": why} if why else {}))

    def do() -> str:
        refused = plan.errors or (plan.warnings and not accept_warnings)
        if plan.kind != "observations" or refused or not store.exists(directory):  # pipeline says why
            return pipeline.commit(plan, directory, accept_warnings=accept_warnings, user=actor)
        with store.lock(directory):  # what is approved now, not at the preview; nothing lands in between
            plan.locked = found = cycle.locked(directory, plan.rows)
            if not found:
                return pipeline.commit(plan, directory, accept_warnings=accept_warnings, user=actor)
            if not why:
                raise cycle.CycleError(cycle.locked_message(found) + "。未导入，数据未改变")
            side = cycle.reopening(directory, found, plan.rows, actor, why)
            with ExitStack() as reopened:  # one audit line per key: intent first, outcome with the commit's
                for x in found:
                    reopened.enter_context(audit.change("reopen", actor, dict(
                        form=x.key.form_id, region=x.key.region_code, period=x.key.period.isoformat(), reason=why,
                        changed=x.changed, file=plan.file), source))
                return pipeline.commit(plan, directory, accept_warnings=accept_warnings, user=actor, side=side)

    return _audited("import", actor, source, detail, do,
                    lambda version: {"rows": {k: int(v) for k, v in plan.counts.items()},
                                     **({"reopened": len(plan.locked)} if plan.locked else {})}, directory=directory)


def commit_boundaries(levels: dict[str, dict], *, file: str, sha256: str, size: int, actor: str | None, source: str,
                      directory: Path | None = None, user_area: str | None = None) -> str:
    """Write checked polygons ({level: FeatureCollection}) as a new data version, audited. With
    `user_area`, a feature outside it refuses the whole file (OutOfArea)."""
    directory = directory or store.data_dir()
    detail = dict(kind="boundaries", file=file, sha256=sha256, bytes=size,
                  features={lv: len(fc["features"]) for lv, fc in levels.items()})

    def do() -> str:
        within = area(user_area, directory)
        outside = scope.boundaries(levels, within, file)
        if outside:
            raise OutOfArea("；".join(p.message for p in outside[:5]) + "。数据未改变")
        codes = [f["properties"].get("code") for fc in levels.values() for f in fc["features"]]
        return store.commit_boundaries(directory, levels, file_name=file, file_sha256=sha256, user=actor,
                                       scope=scope.of_codes(codes, within.tree))
    return _audited("import", actor, source, {**detail, **({"area": user_area} if user_area is not None else {})}, do,
                    directory=directory)


def rollback(version_id: str, *, actor: str | None, source: str, user: str | None = None, lock_timeout: float = 30,
             directory: Path | None = None, user_area: str | None = None, **detail) -> str:
    """A new version with `version_id`'s data, audited. `user` is the name the history shows (the
    actor's by default); `detail` adds to the record (e.g. the version rolled back from). With
    `user_area`, refused (OutOfArea) unless every version it undoes lies inside that area — checked
    under the commit lock, so no version can land between the check and the rollback."""
    directory = directory or store.data_dir()

    def do() -> str:
        with store.lock(directory, lock_timeout):
            records = store.history(directory)
            reach = undone_scope(records, version_id)
            within = area(user_area, directory)
            if within.refusal:
                raise OutOfArea(within.refusal)
            if reach is not None and not within.sees(reach):
                raise OutOfArea(f"回退到 {version_id} 会撤销不在您的管辖范围（{within.name}）内的更改，"
                                "只有全市管理员可以这样回退；数据未改变")
            return store.rollback(directory, version_id, user=user or actor, lock_timeout=lock_timeout,
                                  scope=reach)
    more = {"area": user_area} if user_area is not None else {}
    return _audited("rollback", actor, source, {"to": version_id, **detail, **more}, do, directory=directory)


def compact(*, actor: str | None, source: str, lock_timeout: float = 30, directory: Path | None = None) -> str | None:
    """Fold the current version's deltas into its base files (store.compact), audited; None: nothing to fold."""
    directory = directory or store.data_dir()
    return _audited("compact", actor, source, {}, lambda: store.compact(directory, user=actor, lock_timeout=lock_timeout))


def undone_scope(records: list[dict], version_id: str) -> list[str] | None:
    """The scope of rolling back to `version_id`: what every version after it changed, taken
    together (records newest first, as `history` gives them); None if there is no such version."""
    ids = [r["id"] for r in records]
    if version_id not in ids:
        return None
    # a compaction changes no value: it widens no scope (undoing only one is for a city-wide admin)
    return scope.common(r.get("scope") for r in records[:ids.index(version_id)] if r.get("action") != "compact")


def rollback_targets(directory: Path | None = None, user_area: str | None = None) -> list[str]:
    """The versions (not the current one) a user of `user_area` may roll back to: those after which
    every version lies inside the area (the version itself may be another area's: it stays as it is)."""
    records = store.history(directory or store.data_dir())
    within = area(user_area, directory)
    return [r["id"] for r in records if not r.get("current") and within.sees(undone_scope(records, r["id"]))]


def for_command(change, done: str, failed: str) -> int:
    """Run a change for the command line: `done` (with {version}) on stdout and exit code 0, or
    `failed` (with {error}) on stderr and 2 — the change itself has audited either way."""
    try:
        version = change()
    except (store.StoreError, OSError) as e:
        print(failed.format(error=e), file=sys.stderr)
        return 2
    print(done.format(version=version))
    return 0


def history(directory: Path | None = None, user_area: str | None = None) -> list[dict]:
    """Every version's record, newest first (store.history of the data directory); with
    `user_area`, only the versions whose changes lie inside it (ingest/scope.py)."""
    records = store.history(directory or store.data_dir())
    if user_area is None:
        return records
    within = area(user_area, directory)
    return [r for r in records if within.sees(r.get("scope"))]


ACTIONS = {"base": "初始数据", "import": "导入", "rollback": "回滚", "compact": "合并增量"}
TABLES = {"regions": "区划", "indicators": "指标", "observations": "观测", "targets": "目标", "forms": "报表",
          "submissions": "报送记录", "returns": "上报数据", "task_notes": "任务进展"}


def history_table(records: list[dict]) -> pd.DataFrame:
    """The history as the 导入 page shows it and `python -m minsheng history` prints it."""
    return pd.DataFrame([{
        "版本": r["id"], "时间": (r.get("created") or "")[:19].replace("T", " "),
        "操作": ACTIONS.get(r.get("action"), r.get("action")) + (f" {r['source']}" if r.get("source") else ""),
        "文件": r.get("file_name") or "", "SHA-256": (r.get("file_sha256") or "")[:12], "说明": r.get("note") or "",
        "行数": " ".join(f"{TABLES.get(k, k)}{v}" for k, v in (r.get("rows") or {}).items()),
        "当前": "●" if r.get("current") else ""} for r in records],
        columns=["版本", "时间", "操作", "文件", "SHA-256", "说明", "行数", "当前"])


StoreError = store.StoreError  # what the three changes raise when the store refuses (busy, conflict …)
