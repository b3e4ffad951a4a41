"""One import from start to end: read → validate → preview against current data → commit a new version."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from minsheng import observations, store, vocab
from minsheng.ingest import contract, readers, validate
from minsheng.ingest.catalog import Catalog
from minsheng.ingest.problems import ERROR, WARNING, ImportRejected, Problem, error


@dataclass
class Plan:
    """What an import would do, computed without writing anything."""
    file: str
    sha256: str
    kind: str
    rows: pd.DataFrame
    problems: list[Problem]
    merged: pd.DataFrame | None = None          # the table after the commit; for observations, the
                                                # file's rows (the store merges them on disk)
    counts: dict = field(default_factory=dict)  # 新增 / 修改 / 未变
    changes: pd.DataFrame | None = None         # old → new for changed rows
    parent: str | None = None                   # the data version the preview was computed against

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == WARNING]


def _current(directory: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(store.table_path(store.resolve(directory), name))


def catalog(directory: Path) -> Catalog:
    # Observations stay on disk: the year-on-year check reads just the rows it compares with.
    return Catalog(_current(directory, "regions"), _current(directory, "indicators"),
                   observations_file=store.table_path(store.resolve(directory), "observations"))


def _align(df: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """New rows with the existing table's columns and dtypes, so the Parquet schema never drifts."""
    out = pd.DataFrame({c: df[c] if c in df else pd.Series([None] * len(df), dtype=object, index=df.index)
                        for c in like.columns})
    if "seq" in like.columns and "seq" not in df:  # new indicators go to the end of the catalogue
        start = int(like["seq"].max()) + 1 if len(like) else 1
        out["seq"] = range(start, start + len(out))
    for c in like.columns:
        if c in ("period", "deadline"):
            out[c] = pd.to_datetime(out[c]).dt.date if len(out) else out[c]
            continue
        for dtype in (like[c].dtype, "Int64" if pd.api.types.is_integer_dtype(like[c].dtype) else None):
            if dtype is None:
                break
            try:
                out[c] = out[c].astype(dtype)
                break
            except (TypeError, ValueError):
                continue
    return out


def _like(directory: Path, name: str) -> pd.DataFrame:
    """An empty frame with the table's columns and dtypes (from the file's schema, nothing read)."""
    import pyarrow.parquet as pq

    return pq.read_schema(store.table_path(store.resolve(directory), name)).empty_table().to_pandas()


def preview_observations(rows: pd.DataFrame, directory: Path) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Like `preview`, for observations at any table size: only the existing rows with the file's
    keys are read (by DuckDB); the merged table itself is written at commit by the store.
    Returns the file's rows aligned to the table's columns (the store merges them), counts, changes."""
    path = store.table_path(store.resolve(directory), "observations")
    if not path.exists():
        return preview("observations", rows, pd.DataFrame(columns=rows.columns))
    new = _align(rows, _like(directory, "observations"))
    _, counts, changes = preview("observations", new, observations.existing(path, new), merge=False)
    return new, counts, changes


def preview(kind: str, rows: pd.DataFrame, current: pd.DataFrame, merge: bool = True
            ) -> tuple[pd.DataFrame | None, dict, pd.DataFrame]:
    """Merge the file's rows into the current table; count new, changed and unchanged rows.
    Without `merge`, `current` may be just the rows sharing a key with the file, and no merged table
    is returned."""
    key, compared = contract.KINDS[kind].keys, contract.KINDS[kind].compared
    new = _align(rows, current)
    cur = current.copy()
    for c in ("period", "deadline"):
        if c in cur:
            cur[c] = pd.to_datetime(cur[c]).dt.date
    joined = new.merge(cur, on=key, how="left", suffixes=("", "_old"), indicator=True)
    exists = joined["_merge"] == "both"

    def differs(c):
        a, b = joined[c], joined[f"{c}_old"]
        both_na = a.isna() & b.isna()
        # flags (cumulative, higher_is_better) are numeric to pandas but cannot be subtracted
        numeric = [pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x) for x in (a, b)]
        if all(numeric):
            return ~both_na & ~((a - b).abs() <= 1e-9)
        return ~both_na & (a.astype(str) != b.astype(str))

    changed_mask = pd.Series(False, index=joined.index)
    for c in compared:
        if c in joined and f"{c}_old" in joined:
            changed_mask |= differs(c)
    changed_mask &= exists
    counts = {"新增": int((~exists).sum()), "修改": int(changed_mask.sum()), "未变": int((exists & ~changed_mask).sum())}
    shown = [c for c in compared if c in joined]
    changes = joined.loc[changed_mask, key + [x for c in shown for x in (f"{c}_old", c)]]
    changes = changes.rename(columns=lambda c: c.replace("_old", "（原）"))
    if not merge:
        return None, counts, changes
    merged = pd.concat([cur.merge(new[key], on=key, how="left", indicator=True).query("_merge == 'left_only'")
                        .drop(columns="_merge"), new], ignore_index=True)
    merged = merged.sort_values(key).reset_index(drop=True)
    return merged, counts, changes


def prepare(data: bytes, file: str, directory: Path | None = None, *, kind: str | None = None,
            indicator: str | None = None, within: str | None = None, factor: float = 3.0,
            max_bytes: int = readers.MAX_BYTES, progress=None) -> Plan:
    """Read, validate and preview a file; nothing is written. `progress(fraction, text)` hears the stages."""
    directory = directory or store.data_dir()
    progress = progress or (lambda fraction, text: None)
    file = Path(file).name  # only ever a name for messages: user input never becomes a path
    sha = hashlib.sha256(data).hexdigest()
    if kind is not None and kind not in vocab.FILES:
        return Plan(file, sha, kind, pd.DataFrame(), [error(file, f"未知导入类型“{kind}”")])
    progress(0.05, "读取文件…")
    sheets = readers.read_isolated(data, file, max_bytes)  # in a bounded child process
    progress(0.3, "逐行检查…")
    cat = catalog(directory)
    problems: list[Problem] = []
    frames = []
    chosen = kind
    for sheet in sheets:
        if not sheet.header and sheet.problems:
            problems += sheet.problems
            continue
        k = kind or contract.guess_kind(sheet.header)
        chosen = chosen or k
        if k != chosen:
            problems.append(error(file, f"工作表“{sheet.name}”像是{vocab.FILES.label(k)}，与其他工作表"
                                  f"（{vocab.FILES.label(chosen)}）不同；请分开导入", sheet=sheet.name))
            continue
        parsed = validate.parse_sheet(sheet, chosen, cat, indicator=indicator, within=within, factor=factor)
        problems += parsed.problems
        frames.append(parsed.rows)
    chosen = chosen or "observations"
    rows = pd.concat([f for f in frames if not f.empty], ignore_index=True) if any(not f.empty for f in frames) \
        else pd.DataFrame()
    if len(frames) > 1 and not rows.empty:
        problems += _cross_sheet_duplicates(rows, chosen, file)
    plan = Plan(file, sha, chosen, rows, problems, parent=store.current(directory))
    if rows.empty and not plan.errors:
        plan.problems.append(error(file, "文件中没有可导入的数据行"))
    if not plan.errors:
        progress(0.8, "与现有数据比对…")
        plan.merged, plan.counts, plan.changes = _preview(chosen, rows, directory)
    progress(1.0, "完成")
    return plan


def _preview(kind: str, rows: pd.DataFrame, directory: Path):
    if kind == "observations":
        return preview_observations(rows, directory)
    return preview(kind, rows, _current(directory, kind))


def _cross_sheet_duplicates(rows: pd.DataFrame, kind: str, file: str) -> list[Problem]:
    dup = rows[rows.duplicated(contract.KINDS[kind].keys, keep="first")]
    return [error(file, "与其他工作表中的一行重复", sheet=r["_sheet"], row=r["_row"]) for r in dup.to_dict("records")]


def commit(plan: Plan, directory: Path | None = None, *, accept_warnings: bool = False, user: str | None = None,
           lock_timeout: float = 30) -> str:
    """Write the plan as a new data version; refuses while there are errors or unconfirmed warnings."""
    directory = directory or store.data_dir()
    if plan.errors:
        raise ImportRejected(plan.errors)
    if plan.warnings and not accept_warnings:
        raise ImportRejected(plan.warnings)
    for attempt in range(5):
        try:
            return _write(plan, directory, user, lock_timeout)
        except store.StoreConflict:
            if attempt == 4:
                raise
            # another import landed since the preview: merge into the newer data and try again
            plan.parent = store.current(directory)
            plan.merged, plan.counts, plan.changes = _preview(plan.kind, plan.rows, directory)
    raise AssertionError("unreachable")


def _write(plan: Plan, directory: Path, user: str | None, lock_timeout: float) -> str:
    table = plan.merged.drop(columns=[c for c in plan.merged.columns if c.startswith("_")])
    if plan.kind == "observations":  # the file's rows only: the store merges them into the table
        table["batch_id"] = table["batch_id"].where(table["batch_id"].notna(), plan.sha256[:12]) \
            if "batch_id" in table else plan.sha256[:12]
    meta_update = {}
    if plan.kind == "observations" and not plan.rows.empty:
        last = max(plan.rows["period"])
        meta = store.read_meta(directory)
        month_end = (pd.Timestamp(last) + pd.offsets.MonthEnd(0)).date()
        if not meta.get("data_date") or month_end.isoformat() > meta["data_date"]:
            meta_update["data_date"] = month_end.isoformat()
    meta_update["last_import"] = dt.datetime.now().isoformat(timespec="seconds")
    tables, rows = ({}, table) if plan.kind == "observations" else ({plan.kind: table}, None)
    return store.commit(directory, tables, observations=rows, action="import", file_name=plan.file, file_sha256=plan.sha256,
                        kind=plan.kind, user=user, meta_update=meta_update, lock_timeout=lock_timeout,
                        expected_parent=plan.parent,
                        note=f"新增 {plan.counts.get('新增', 0)}，修改 {plan.counts.get('修改', 0)}，未变 {plan.counts.get('未变', 0)}")
