"""未审核 data, on request: the figures of every return sent and not yet reviewed, merged into a read-only view
of the current version (store.derived), which a page reads instead of the data when its user asks for them.

The data themselves only ever hold approved figures (minsheng/cycle.py writes a return's figures at 通过).
Upper levels may look at the pending ones too, and then every figure they see says so: each pending row's 来源
ends in （未审核）, which the roll-ups carry upwards into every sum it enters, and the pages, images, decks and
files made from such a view say 含未审核数据 (Selection.pending).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from minsheng import cycle, db, store
from minsheng.ingest import pipeline
from minsheng.regions import Tree

MARK = "（未审核）"


def rows(directory: Path) -> pd.DataFrame:
    """The figures of every return in state 已上报 (its last 上报), as observation rows; 来源 marked."""
    st = cycle.states(directory)
    st = st[st["state"] == cycle.SUBMITTED]
    if st.empty:
        return pd.DataFrame(columns=[*cycle.OBS, "batch_id"])
    rt = cycle.returns(directory)
    # in state 已上报 the latest event is the 上报 whose figures await review (a period an admin's import
    # reopened has no figures of its own there: its data are already the import's)
    keys = st[["form_id", "region_code", "period", "seq"]]
    got = rt.merge(keys, on=["form_id", "region_code", "period", "seq"], how="inner")
    out = got[list(cycle.OBS)].copy()
    out["source"] = [(s or "上报") + MARK for s in out["source"].where(out["source"].notna(), None)]
    out["batch_id"] = [f"pending:sub:{f}:{r}:{pd.Timestamp(p):%Y-%m}:{q}"
                       for f, r, p, q in zip(got["form_id"], got["region_code"], got["period"], got["seq"])]
    out["period"] = pd.to_datetime(out["period"]).dt.date
    return out.reset_index(drop=True)


def count(directory: Path, within: str | None = None) -> int:
    """How many returns await review under `within` (a region code; None: everywhere)."""
    st = cycle.states(directory)
    st = st[st["state"] == cycle.SUBMITTED]
    if st.empty or within is None:
        return len(st)
    tree = Tree(pipeline.table(directory, "regions"))
    return sum(within in tree.path(c) for c in st["region_code"])


def view(directory: Path) -> Path | None:
    """The derived store with the pending figures merged in; None when nothing is pending."""
    got = rows(directory)
    if got.empty:
        return None
    tag = hashlib.sha256(pd.util.hash_pandas_object(got.astype(str), index=False).values.tobytes()).hexdigest()[:16]
    aligned = pipeline.align(got, pipeline.table_like(directory, "observations"))
    view = store.derived(directory, aligned, tag, pipeline.data_date_update(directory, got["period"]))
    db.forget_gone()  # the views it replaced: their connections go too
    return view
