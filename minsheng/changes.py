"""Every change to the data, audited: commit an import, commit boundaries, roll back.

The 导入 page and the command line both come here. Each call writes one audit record whatever
happens — `ok` and the new version, or `ok: false` and the error — and then returns the version
or raises what the store raised, so no path can commit without a record or fail without one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from minsheng import audit, store
from minsheng.ingest import pipeline


def _audited(action: str, actor: str | None, source: str, detail: dict, do, done=lambda version: {}) -> str:
    try:
        version = do()
    except Exception as e:
        audit.record(action, actor, {**detail, "ok": False, "error": str(e)}, source)
        raise
    audit.record(action, actor, {**detail, **done(version), "ok": True, "version": version}, source)
    return version


def commit(plan: pipeline.Plan, *, actor: str | None, source: str, accept_warnings: bool = False,
           directory: Path | None = None) -> str:
    """Write an import's plan as a new data version (pipeline.commit), audited."""
    detail = dict(kind=plan.kind, file=plan.file, sha256=plan.sha256, warnings=len(plan.warnings))
    return _audited("import", actor, source, detail,
                    lambda: pipeline.commit(plan, directory, accept_warnings=accept_warnings, user=actor),
                    lambda version: {"rows": {k: int(v) for k, v in plan.counts.items()}})


def commit_boundaries(levels: dict[str, dict], *, file: str, sha256: str, size: int, actor: str | None, source: str,
                      directory: Path | None = None) -> str:
    """Write checked polygons ({level: FeatureCollection}) as a new data version, audited."""
    detail = dict(kind="boundaries", file=file, sha256=sha256, bytes=size,
                  features={lv: len(fc["features"]) for lv, fc in levels.items()})
    return _audited("import", actor, source, detail, lambda: store.commit_boundaries(
        directory or store.data_dir(), levels, file_name=file, file_sha256=sha256, user=actor))


def rollback(version_id: str, *, actor: str | None, source: str, user: str | None = None, lock_timeout: float = 30,
             directory: Path | None = None, **detail) -> str:
    """A new version with `version_id`'s data, audited. `user` is the name the history shows (the
    actor's by default); `detail` adds to the record (e.g. the version rolled back from)."""
    return _audited("rollback", actor, source, {"to": version_id, **detail}, lambda: store.rollback(
        directory or store.data_dir(), version_id, user=user or actor, lock_timeout=lock_timeout))


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


def history(directory: Path | None = None) -> list[dict]:
    """Every version's record, newest first (store.history of the data directory)."""
    return store.history(directory or store.data_dir())


ACTIONS = {"base": "初始数据", "import": "导入", "rollback": "回滚"}
TABLES = {"regions": "区划", "indicators": "指标", "observations": "观测", "targets": "目标"}


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
