"""报送进度: which returns are in, for every expected 报表 × region × period, and the rates at each level.

One cell per expected return (forms.expected: the regions at the form's level valid on the period's
last day, in the form's periods):

    按时   approved, its last 上报 on or before the deadline       reported, on time
    迟报   approved, its last 上报 after the deadline              reported
    待审核 sent and not yet reviewed (on time if sent by the deadline) reported
    已退回 returned and not yet sent again                        not reported
    未报   nothing sent (a draft is not a return)                  not reported

报送率 = reported ÷ expected, 及时率 = on time ÷ expected, for every region of the area at every level
(a county over its townships, the city over all of them) and every period. The office's 催报 list is
every return not reported whose deadline has passed, with its days late and the region's reporters.
A region whose code was retired is expected only in periods it was valid in, and its successor from
then on (the roll-ups' rule, lineage.py), so a merger neither owes twice nor drops a month.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from minsheng import auth, cycle, forms
from minsheng.ingest import pipeline
from minsheng.regions import Tree

ON_TIME, LATE, PENDING, RETURNED, MISSING = "按时", "迟报", "待审核", "已退回", "未报"
CELLS = (ON_TIME, LATE, PENDING, RETURNED, MISSING)
MARK = {ON_TIME: "✓ 按时", LATE: "迟报", PENDING: "待审核", RETURNED: "已退回", MISSING: "未报"}
REPORTED = (ON_TIME, LATE, PENDING)
RATES = ["region_code", "level", "period", "expected", "reported", "on_time", "pending", "returned", "missing", "late",
         "report_rate", "on_time_rate"]


def cells(directory: Path, form: forms.Form, periods: list[dt.date], area: str | None = None,
          today: dt.date | None = None) -> pd.DataFrame:
    """One row per expected return: region_code, period, deadline, cell (one of CELLS), reported, on_time,
    submitted_at, days_late (past the deadline, today for one not reported), reason (of a return)."""
    today = today or cycle.clock().date()
    try:
        periods = [form.period_of(p) for p in periods]
    except forms.FormError as e:
        raise cycle.CycleError(str(e)) from None
    periods = [p for p in periods if form.active(p)]  # before valid_from or after valid_to nothing is owed
    regions = pipeline.table(directory, "regions")
    owed = forms.expected(directory, form, periods, regions, within=area or None)
    st = cycle.states(directory)
    st = st[st["form_id"] == form.id].set_index(["region_code", "period"]) if len(st) else st
    rows = []
    for code, period, due in owed.itertuples(index=False):
        got = st.loc[(code, period)] if len(st) and (code, period) in st.index else None
        state = got["state"] if got is not None else cycle.NONE
        sent = _moment(got["submitted_at"]) if got is not None else None
        sent_day = sent.astimezone(cycle.CHINA).date() if sent else None  # deadlines are days in China
        timely = sent_day is not None and sent_day <= due
        cell = {cycle.APPROVED: ON_TIME if timely else LATE, cycle.SUBMITTED: PENDING,
                cycle.RETURNED: RETURNED}.get(state, MISSING)
        reported = cell in REPORTED
        late = (sent_day - due).days if reported and sent_day and sent_day > due else \
            ((today - due).days if not reported and today > due else 0)
        rows.append(dict(region_code=code, period=period, deadline=due, cell=cell, reported=reported,
                         on_time=reported and timely, submitted_at=sent, days_late=max(late, 0),
                         reason=got["reason"] if got is not None and state == cycle.RETURNED else None))
    return pd.DataFrame(rows, columns=["region_code", "period", "deadline", "cell", "reported", "on_time",
                                       "submitted_at", "days_late", "reason"])


def _moment(text) -> dt.datetime | None:
    """A stored time; one written without an offset is China time (never the server's zone)."""
    if text is None or text is pd.NA or (isinstance(text, float) and pd.isna(text)) or not str(text):
        return None
    t = dt.datetime.fromisoformat(str(text))
    return t if t.tzinfo else t.replace(tzinfo=cycle.CHINA)


def rates(table: pd.DataFrame, regions: pd.DataFrame, area: str | None = None) -> pd.DataFrame:
    """Counts and rates per region (the area and every region in it above the form's level) and period:
    region_code, level, period, expected, reported, on_time, pending, returned, missing, late,
    report_rate, on_time_rate (percentages; None where nothing is expected)."""
    tree = Tree(regions)
    out = []
    if table.empty:
        return pd.DataFrame(columns=RATES)
    if area:  # only the area's own returns count, whatever table was passed in
        table = table[[area in tree.path(c) for c in table["region_code"]]]
    # a return counts for every region above it; an area at the form's level (a township's own reporter) has a row too
    ups = {c: tree.path(c)[:-1] + ([c] if c == area else []) for c in table["region_code"].unique()}
    top = tree.path(area) if area else []
    keep_above = set(top[:-1])  # ancestors of the area are outside it: never counted
    long = []
    for r in table.itertuples(index=False):
        for up in ups[r.region_code]:
            if up not in keep_above:
                long.append((up, r.period, r.cell, r.reported, r.on_time))
    df = pd.DataFrame(long, columns=["region_code", "period", "cell", "reported", "on_time"])
    for (code, period), g in df.groupby(["region_code", "period"], sort=True):
        n = len(g)
        rep, ok = int(g["reported"].sum()), int(g["on_time"].sum())
        out.append(dict(region_code=code, level=tree.levels.get(code), period=period, expected=n, reported=rep,
                        on_time=ok, pending=int((g["cell"] == PENDING).sum()),
                        returned=int((g["cell"] == RETURNED).sum()), missing=int((g["cell"] == MISSING).sum()),
                        late=int((g["cell"] == LATE).sum()),
                        report_rate=100.0 * rep / n, on_time_rate=100.0 * ok / n))
    return pd.DataFrame(out, columns=RATES)  # the columns even when nothing is above the form's level


def matrix(table: pd.DataFrame, form: forms.Form) -> pd.DataFrame:
    """The grid the office chases from: a row per region, a column per period (its label), each cell a MARK."""
    if table.empty:
        return pd.DataFrame()
    grid = table.assign(label=[forms.period_label(p, form.frequency) for p in table["period"]],
                        mark=table["cell"].map(MARK))
    order = [forms.period_label(p, form.frequency) for p in sorted(table["period"].unique())]
    return grid.pivot(index="region_code", columns="label", values="mark").reindex(columns=order)


def reporters(users: list[auth.User] | None, tree: Tree, code: str) -> list[str]:
    """The accounts that may 上报 for a region: reporters whose area is the region or, where it has none,
    the nearest ancestor's; enabled accounts only."""
    users = auth.list_users() if users is None else users
    mine = [u for u in users if not u.disabled and auth.can(u.role, "submit") and u.role != auth.Role.admin]
    for at in reversed(tree.path(code)):
        found = sorted(u.name for u in mine if u.area == at)
        if found:
            return found
    return []


def chase(table: pd.DataFrame, form: forms.Form, regions: pd.DataFrame, users: list[auth.User] | None = None
          ) -> pd.DataFrame:
    """催报: every return not reported whose deadline has passed, most days late first, with the accounts to
    chase (columns in Chinese, for the XLSX)."""
    tree = Tree(regions)
    due = table[~table["reported"] & (table["days_late"] > 0)]
    rows = [{"区划代码": r.region_code, "区划名称": tree.names.get(r.region_code, r.region_code),
             "所属上级": tree.names.get(tree.parent.get(r.region_code), ""), "报表": form.name,
             "时期": forms.period_label(r.period, form.frequency), "截止日期": r.deadline.isoformat(),
             "状态": r.cell, "逾期天数": int(r.days_late), "退回原因": r.reason or "",
             "填报账号": "、".join(reporters(users, tree, r.region_code))}
            for r in due.itertuples(index=False)]
    cols = ["区划代码", "区划名称", "所属上级", "报表", "时期", "截止日期", "状态", "逾期天数", "退回原因", "填报账号"]
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["逾期天数", "区划代码"], ascending=[False, True], ignore_index=True)


def chase_xlsx(due: pd.DataFrame, form: forms.Form, area_name: str) -> bytes:
    """The 催报 list as XLSX (export.to_xlsx: formula-leading text neutralised, a 说明 sheet)."""
    from minsheng import export

    made = cycle.clock()
    meta = [("内容", "催报清单：截止日期已过、尚未报送（含已退回未重报）的报表"), ("报表", form.name),
            ("截止时间", form.deadline_text), ("区域", area_name), ("条数", str(len(due))),
            ("生成时间", made.strftime("%Y-%m-%d %H:%M"))]
    return export.to_xlsx(due, meta)


def grid_xlsx(m: pd.DataFrame, what: str, area_name: str, form: forms.Form) -> bytes:
    """The 报送进度 matrix as XLSX (export.to_xlsx: formula-leading text neutralised, a 说明 sheet)."""
    from minsheng import export

    meta = [("内容", what), ("区域", area_name), ("报送时限", f"{form.name}：{form.deadline_text}"),
            ("单元格", "✓ 按时 / 迟报 / 待审核 / 已退回 / 未报；下级汇总为“已报 n/N”（待审核计入已报）"),
            ("生成时间", cycle.clock().strftime("%Y-%m-%d %H:%M"))]
    return export.to_xlsx(m, meta)


def coverage(directory: Path, form: forms.Form, period: dt.date, area: str | None = None) -> tuple[int, int]:
    """已报 n / N for one form and period in an area: the figure other pages show."""
    t = cells(directory, form, [period], area)
    return int(t["reported"].sum()), len(t)


# --- the tables of the 报送进度 page -------------------------------------------------------------------

def _row_of(table: pd.DataFrame, tree: Tree, root: str) -> pd.Series:
    """Each cell's row on the page: the region directly below `root` that holds it."""
    kids = set(tree.kids(root))
    up = {c: next((a for a in tree.path(c) if a in kids), None) for c in table["region_code"].unique()}
    return table["region_code"].map(up)


def _column(table: pd.DataFrame, tree: Tree, root: str) -> pd.DataFrame:
    """The cells as the page's rows show them: the return's MARK where the form is reported directly below
    `root`, else each region below with 已报 n/N of its returns (✓ when all are in): row, period, mark."""
    if table["region_code"].map(tree.parent.get).eq(root).all():
        return pd.DataFrame({"row": table["region_code"], "period": table["period"], "mark": table["cell"].map(MARK)})
    t = table.assign(row=_row_of(table, tree, root)).dropna(subset=["row"])
    g = t.groupby(["row", "period"]).agg(n=("reported", "sum"), total=("reported", "size")).reset_index()
    g["mark"] = [f"{'✓ ' if n == total else ''}已报 {n}/{total}" for n, total in zip(g["n"], g["total"])]
    return g[["row", "period", "mark"]]


def _named(m: pd.DataFrame, tree: Tree) -> pd.DataFrame:
    m = m.reindex([c for c in tree.order if c in m.index])
    m.insert(0, "区划", [tree.names.get(c, c) for c in m.index])
    return m.reset_index(drop=True)


def grid(table: pd.DataFrame, form: forms.Form, tree: Tree, root: str) -> pd.DataFrame:
    """The matrix the office chases from: a row per region directly below `root`, a column per period, the
    newest first (the one being chased stays in sight however many months the year has had)."""
    if table.empty:
        return pd.DataFrame()
    col = _column(table, tree, root)
    labels = {p: forms.period_label(p, form.frequency) for p in sorted(table["period"].unique(), reverse=True)}
    m = col.pivot(index="row", columns="period", values="mark").rename(columns=labels)
    return _named(m.reindex(columns=list(labels.values())), tree)


def by_forms(tables: dict[str, pd.DataFrame], tree: Tree, root: str) -> pd.DataFrame:
    """One period's matrix: a row per region directly below `root`, a column per 报表 (name → its cells)."""
    cols = [_column(t, tree, root).set_index("row")["mark"].rename(name) for name, t in tables.items() if len(t)]
    return _named(pd.concat(cols, axis=1), tree) if cols else pd.DataFrame()


def levels(rates_: pd.DataFrame, tree: Tree, root: str, period: dt.date) -> pd.DataFrame:
    """One period's counts and rates for `root` and each region directly below it, in Chinese."""
    r = rates_[rates_["period"] == period]
    keep = [c for c in [root, *tree.kids(root)] if c in set(r["region_code"])]
    r = r.set_index("region_code").reindex(keep)
    return pd.DataFrame({"区划": [tree.names.get(c, c) for c in keep], "应报": r["expected"].values,
                         "已报": r["reported"].values, "按时": r["on_time"].values, "迟报": r["late"].values,
                         "待审核": r["pending"].values, "已退回": r["returned"].values, "未报": r["missing"].values,
                         "报送率": r["report_rate"].values, "及时率": r["on_time_rate"].values})
