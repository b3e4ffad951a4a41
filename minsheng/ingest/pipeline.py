"""One import from start to end: read → validate → preview against current data → commit a new version."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from minsheng import fields, observations, store, vocab
from minsheng.ingest import cells, contract, readers, scope, start, validate
from minsheng.ingest.catalog import Catalog
from minsheng.ingest.problems import ERROR, WARNING, ImportRejected, Problem, error
from minsheng.regions import Tree


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
    scope: list[str] = field(default_factory=list)  # the smallest region holding every change (ingest/scope.py)
    area: str | None = None                     # the importer's area the rows were checked against
    locked: list = field(default_factory=list)  # approved 报表 × region × period it changes (cycle.locked)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == WARNING]


def table(directory: Path, name: str) -> pd.DataFrame:
    """A table of the current version; before there is a store, the empty table a new one starts with.
    A table written before a field was added gets it, empty (minsheng/fields.py)."""
    path = store.table_path(store.resolve(directory), name) if store.exists(directory) else None
    if path is None or (name in store.SIDE and not path.exists()):  # a store older than its side tables
        return contract.empty_table(name).to_pandas()
    return fields.with_added(pd.read_parquet(path), name)


def catalog(directory: Path) -> Catalog:
    # Observations stay on disk: the year-on-year check reads just the rows it compares with.
    return Catalog(table(directory, "regions"), table(directory, "indicators"),
                   observations_file=store.table_path(store.resolve(directory), "observations"))


def align(df: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """New rows with the existing table's columns and dtypes, so the Parquet schema never drifts."""
    out = pd.DataFrame({c: df[c] if c in df else pd.Series([None] * len(df), dtype=object, index=df.index)
                        for c in like.columns})
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


def _kept(joined: pd.DataFrame, exists: pd.Series, absent: pd.Series, spec: contract.Kind,
          current: pd.DataFrame) -> pd.DataFrame:
    """The file's rows as a commit writes them: on an existing row, the fields the file has no column for
    (`absent`, per row) and the table's own (`carried`, like an indicator's place in the catalogue) stay as
    they are; a new indicator goes to the end of the catalogue."""
    out = joined.copy()
    for c in spec.carried:
        if f"{c}_old" in out:
            out[c] = out[c].where(~exists, out[f"{c}_old"])
    for combo in absent[exists].unique():
        at = exists & (absent == combo)
        for c in combo.split():
            if f"{c}_old" in out:
                out.loc[at, c] = out.loc[at, f"{c}_old"]
    if "seq" in spec.carried and "seq" in out:
        fresh = ~exists & out["seq"].isna()
        start = int(current["seq"].max()) + 1 if len(current) else 1
        out.loc[fresh, "seq"] = range(start, start + int(fresh.sum()))
    return out


def table_like(directory: Path, name: str) -> pd.DataFrame:
    """An empty frame with the table's columns and dtypes (from the file's schema, nothing read)."""
    import pyarrow.parquet as pq

    return fields.with_added(pq.read_schema(store.table_path(store.resolve(directory), name)).empty_table().to_pandas(), name)


def preview_observations(rows: pd.DataFrame, directory: Path) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Like `preview`, for observations at any table size: only the existing rows with the file's
    keys are read (by DuckDB); the merged table itself is written at commit by the store.
    Returns the file's rows aligned to the table's columns (the store merges them), counts, changes."""
    path = store.table_path(store.resolve(directory), "observations")
    if not path.exists():
        return preview("observations", rows, pd.DataFrame(columns=rows.columns))
    like = table_like(directory, "observations")
    return preview("observations", rows, observations.existing(path, align(rows, like)), merge=False, like=like)


def preview(kind: str, rows: pd.DataFrame, current: pd.DataFrame, merge: bool = True,
            like: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Merge the file's rows into the current table; count new, changed and unchanged rows, comparing every
    field a commit would change. Without `merge`, `current` may be just the rows sharing a key with the
    file, and the file's rows are returned as they would be written (with the columns and dtypes of `like`,
    the table's schema) instead of the merged table."""
    spec = contract.KINDS[kind]
    key = spec.keys
    cur = current.copy()
    for c in ("period", "deadline"):
        if c in cur:
            cur[c] = pd.to_datetime(cur[c]).dt.date
    like = cur if like is None else like
    new = align(rows, like)
    joined = new.merge(cur, on=key, how="left", suffixes=("", "_old"), indicator=True)
    joined.index = new.index
    exists = joined["_merge"] == "both"
    absent = rows["_absent"].fillna("") if "_absent" in rows else pd.Series("", index=new.index)
    joined = _kept(joined, exists, absent, spec, cur)
    compared = [c for c in spec.compared if c in cur.columns]
    differs = {c: _differs(joined[c], joined[f"{c}_old"]) & exists for c in compared}
    changed_mask = pd.Series(False, index=joined.index)
    for mask in differs.values():
        changed_mask |= mask
    counts = {"新增": int((~exists).sum()), "修改": int(changed_mask.sum()), "未变": int((exists & ~changed_mask).sum())}
    new = align(joined[list(like.columns)], like)
    changes = _changes(joined, changed_mask, differs, spec)
    if not merge:
        return new, counts, changes
    merged = pd.concat([cur.merge(new[key], on=key, how="left", indicator=True).query("_merge == 'left_only'")
                        .drop(columns="_merge"), new], ignore_index=True)
    merged = merged.sort_values(key).reset_index(drop=True)
    return merged, counts, changes


def _differs(a: pd.Series, b: pd.Series) -> pd.Series:
    both_na = a.isna() & b.isna()
    # flags (cumulative, higher_is_better) are numeric to pandas but cannot be subtracted
    numeric = [pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x) for x in (a, b)]
    if all(numeric):
        # a nullable integer (decimals) against an empty one gives NA, not False: still a difference
        return ~both_na & ~((a - b).abs() <= 1e-9).fillna(False).astype(bool)
    return ~both_na & (a.astype(str) != b.astype(str))


def _changes(joined: pd.DataFrame, changed: pd.Series, differs: dict[str, pd.Series], spec: contract.Kind
             ) -> pd.DataFrame:
    """The changed rows: their keys, what changes in words (字段：原 → 新；…), then old and new of each field
    that changes on any of them."""
    rows = joined.loc[changed]
    moved = [c for c, mask in differs.items() if mask.any()]
    said = pd.Series("", index=rows.index, dtype=object)
    for c in moved:
        at, terms = differs[c][changed], spec[c].choices and spec[c].choices.terms
        words = spec[c].header + "：" + _words(rows[f"{c}_old"], terms) + " → " + _words(rows[c], terms)
        said = said.where(~at, said.where(said == "", said + "；") + words)
    out = rows[spec.keys].assign(修改内容=said)
    for c in moved:
        out[f"{c}（原）"], out[c] = rows[f"{c}_old"], rows[c]
    return out.reset_index(drop=True)


def _words(values: pd.Series, terms: vocab.Vocabulary | None) -> pd.Series:
    """`_said` of each value: numbers at once, anything else once per distinct value (a large import
    changes 10^5 values, most of them numbers)."""
    empty = values.isna()
    if terms is None and pd.api.types.is_float_dtype(values):
        out = values.astype(str).astype(object)
        whole = ~empty & (values % 1 == 0) & (values.abs() < 1e15)
        out[whole] = values[whole].astype("int64").astype(str)
    else:
        said = {v: _said(v, terms) for v in values[~empty].unique()}
        out = values.map(said).astype(object)
    out[empty] = "（空）"
    return out


def _said(v, terms: vocab.Vocabulary | None = None) -> str:
    """A value as the preview words it: a term by its label (乡镇（街道）, 是), numbers without trailing zeros,
    dates as 2026-12-31, （空） for nothing."""
    if pd.isna(v):
        return "（空）"
    if terms is not None:
        return terms.label(bool(v) if isinstance(v, np.bool_) else v)
    if isinstance(v, (int, float, np.number)):
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    return v.strftime("%Y-%m-%d") if isinstance(v, dt.date) else str(v)


def prepare(data: bytes, file: str, directory: Path | None = None, *, kind: str | None = None,
            indicator: str | None = None, within: str | None = None, factor: float = 3.0,
            max_bytes: int = readers.MAX_BYTES, progress=None, area: str | None = None) -> Plan:
    """Read, validate and preview a file; nothing is written. `progress(fraction, text)` hears the stages.
    `area`: the importer's region code — rows outside it are errors (ingest/scope.py); None: the whole tree."""
    directory = directory or store.data_dir()
    progress = progress or (lambda fraction, text: None)
    # only ever a name for messages, a new row's 来源 and the history: never a path, nothing hidden
    file = cells.file_label(Path(file).name)
    sha = hashlib.sha256(data).hexdigest()
    if kind is not None and kind not in vocab.FILES:
        return Plan(file, sha, kind, pd.DataFrame(), [error(file, f"未知导入类型“{kind}”")])
    refused = start.refusal(directory)
    if refused:
        return Plan(file, sha, kind, pd.DataFrame(), [error(file, refused)])
    progress(0.05, "读取文件…")
    sheets = readers.read_isolated(data, file, max_bytes)  # in a bounded child process
    progress(0.3, "逐行检查…")
    cat = catalog(directory)
    loaded = {"regions": len(cat.regions), "indicators": len(cat.indicators)}
    importer = scope.Area(cat.tree, area)
    if importer.refusal:  # in a new store no area exists yet: its first region list comes from the server
        return Plan(file, sha, kind, pd.DataFrame(), [error(file, importer.refusal if len(cat.regions)
                                                            else start.FIRST_REGIONS_BY_AREA)])
    if not importer.city_wide:  # names resolve inside the area first: a 红旗村 elsewhere is not ambiguous
        within = within or area
    problems: list[Problem] = []
    frames = []
    chosen = kind
    for sheet in sheets:
        if not sheet.header and sheet.problems:
            problems += sheet.problems
            continue
        k = kind or contract.guess_kind(sheet.header)
        if need := start.missing(k, loaded):  # one clear message, not one "unknown code" per row
            return Plan(file, sha, k, pd.DataFrame(), [error(file, need)])
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
    rows, problems = scope.confine(chosen, rows, problems, importer, file, sheets)
    # a wide table checks a row's name once per period column: the same problem at the same cell is one
    problems = list(dict.fromkeys(problems))
    # the version the preview read (store.reading); a commit refuses if that is not the whole current one
    plan = Plan(file, sha, chosen, rows, problems, parent=store.reading(directory).id,
                scope=scope.touched(chosen, rows, cat.tree), area=area)
    if rows.empty and not plan.errors:
        plan.problems.append(error(file, "文件中没有可导入的数据行"))
    if not plan.errors:
        progress(0.8, "与现有数据比对…")
        plan.merged, plan.counts, plan.changes = _preview(chosen, rows, directory)
        if chosen == "observations":  # approved returns are locked: the preview names them (cycle.py)
            from minsheng import cycle

            plan.locked = cycle.locked(directory, rows)
    progress(1.0, "完成")
    return plan


def _preview(kind: str, rows: pd.DataFrame, directory: Path):
    if kind == "observations":
        return preview_observations(rows, directory)
    if kind == "forms":
        return preview_forms(rows, table(directory, kind))
    return preview(kind, rows, table(directory, kind))


def preview_forms(rows: pd.DataFrame, existing: pd.DataFrame):
    """A 报表 file gives each form it names whole: its rows become the form's, in the file's order (position);
    the form's indicators the file leaves out are dropped (counted as 修改 of the form, shown as 移除); forms
    the file does not name stay as they are."""
    merged, counts, changes = preview("forms", rows, existing)
    order = rows.groupby("form_id", sort=False).cumcount()
    at = dict(zip(zip(rows["form_id"], rows["indicator_id"]), order))
    merged["position"] = [at.get(k, p) for k, p in zip(zip(merged["form_id"], merged["indicator_id"]),
                                                         merged["position"])]
    named = set(rows["form_id"])
    gone = existing[existing["form_id"].isin(named)].merge(rows[["form_id", "indicator_id"]], how="left",
                                                          on=["form_id", "indicator_id"], indicator=True)
    gone = gone[gone["_merge"] == "left_only"].drop(columns="_merge")
    if len(gone):
        keep = ~merged.set_index(["form_id", "indicator_id"]).index.isin(
            list(zip(gone["form_id"], gone["indicator_id"])))
        merged = merged[keep].reset_index(drop=True)
        counts = {**counts, "修改": counts.get("修改", 0) + len(gone)}
        dropped = pd.DataFrame({"form_id": gone["form_id"], "indicator_id": gone["indicator_id"],
                                "修改内容": "从报表中移除此指标"})
        changes = dropped if changes is None or changes.empty else pd.concat([changes, dropped], ignore_index=True)
    return merged, counts, changes


def _cross_sheet_duplicates(rows: pd.DataFrame, kind: str, file: str) -> list[Problem]:
    dup = rows[rows.duplicated(contract.KINDS[kind].keys, keep="first")]
    return [error(file, "与其他工作表中的一行重复", sheet=r["_sheet"], row=r["_row"]) for r in dup.to_dict("records")]


def commit(plan: Plan, directory: Path | None = None, *, accept_warnings: bool = False, user: str | None = None,
           lock_timeout: float = 30, side: dict | None = None) -> str:
    """Write the plan as a new data version; refuses while there are errors or unconfirmed warnings.
    `side`: store.SIDE tables written in the same commit (the reporting cycle's reopened reviews)."""
    directory = directory or store.data_dir()
    if plan.errors:
        raise ImportRejected(plan.errors)
    if plan.warnings and not accept_warnings:
        raise ImportRejected(plan.warnings)
    for attempt in range(5):
        try:
            return _write(plan, directory, user, lock_timeout, side or {})
        except store.StoreConflict:
            if attempt == 4:
                raise
            # another import landed since the preview: merge into the newer data and try again
            plan.parent = store.current(directory)
            _confine_again(plan, directory)
            plan.merged, plan.counts, plan.changes = _preview(plan.kind, plan.rows, directory)
    raise AssertionError("unreachable")


def _confine_again(plan: Plan, directory: Path) -> None:
    """Check the rows again against the newer version's region tree (a township may have moved out
    of the importer's area since the preview) and recompute the scope; StoreConflict if any left."""
    tree = Tree(table(directory, "regions"))
    importer = scope.Area(tree, plan.area)
    _, problems = scope.confine(plan.kind, plan.rows, [], importer, plan.file, [])
    outside = [p for p in problems if p.level == ERROR]
    if importer.refusal or outside:
        raise store.StoreConflict(f"数据已被另一次提交更新，{importer.refusal or outside[0].message}"
                                  f"（共 {max(len(outside), 1)} 处）；请重新上传检查")
    plan.scope = scope.touched(plan.kind, plan.rows, tree)


def data_date_update(directory: Path, periods) -> dict:
    """The meta change rows of these periods make: the data date moves to the end of the latest month
    written, never back."""
    if len(periods) == 0:
        return {}
    month_end = (pd.Timestamp(max(periods)) + pd.offsets.MonthEnd(0)).date()
    data_date = store.read_meta(directory).get("data_date")
    return {"data_date": month_end.isoformat()} if not data_date or month_end.isoformat() > data_date else {}


def _write(plan: Plan, directory: Path, user: str | None, lock_timeout: float, side: dict) -> str:
    if not store.exists(directory):  # changes.commit creates the store first; a commit never half-makes one
        raise store.StoreError("数据目录尚未创建：请先运行 python -m minsheng init <目录>，或经“导入”页、命令行导入")
    table = plan.merged.drop(columns=[c for c in plan.merged.columns if c.startswith("_")])
    if plan.kind == "observations":  # the file's rows only: the store merges them into the table
        table["batch_id"] = table["batch_id"].where(table["batch_id"].notna(), plan.sha256[:12]) \
            if "batch_id" in table else plan.sha256[:12]
    meta_update = data_date_update(directory, plan.rows["period"]) if plan.kind == "observations" else {}
    meta_update["last_import"] = dt.datetime.now().isoformat(timespec="seconds")
    tables, rows = ({}, table) if plan.kind == "observations" else ({plan.kind: table}, None)
    tables = {**tables, **side}
    return store.commit(directory, tables, observations=rows, action="import", file_name=plan.file, file_sha256=plan.sha256,
                        kind=plan.kind, user=user, meta_update=meta_update, lock_timeout=lock_timeout,
                        expected_parent=plan.parent, scope=plan.scope,
                        note=f"新增 {plan.counts.get('新增', 0)}，修改 {plan.counts.get('修改', 0)}，未变 {plan.counts.get('未变', 0)}")
