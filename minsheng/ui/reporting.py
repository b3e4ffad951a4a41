"""What the reporting cycle's pages (填报, 审核, 报送进度) share: the signed-in user as a cycle Actor, the
报表 and periods to pick from, a step run with its outcome said on the next draw, the history of a
return, and the cached progress cells other pages count 已报 n/N from (minsheng/progress.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Callable

import pandas as pd
import streamlit as st

from minsheng import cycle, forms, lineage, progress, store
from minsheng.ingest.problems import Problem
from minsheng.selection import Selection
from minsheng.ui import data, frame, pages, session
from minsheng.ui.text import T, md

FIELDS = ("value", "numerator", "denominator")  # a return's cells for one indicator
FIELD_ZH = {"value": "数值", "numerator": "分子", "denominator": "分母"}
SAID = "_cyc_said"        # (kind, message) for the next draw of the page
PROBLEMS = "_cyc_problems"  # (tag, [Problem]) of the last check, drawn beside the cells


def actor() -> cycle.Actor:
    """The signed-in user as the cycle sees them (the gate has run: there is one)."""
    u = session.user()
    if u is None:
        raise session.NotSignedIn("未登录")
    # the local single-user admin acts everywhere (its area "" means every region there, session.area); any
    # other account's empty area is no area at all (cycle.Actor.of fails closed)
    return cycle.Actor(u.name, u.role, None) if session.is_local() else cycle.Actor.of(u)


def directory():
    return store.data_dir()


def today() -> dt.date:
    return cycle.clock().date()


@st.cache_data(max_entries=8, show_spinner=False)
def _catalogue(ver: str) -> dict[str, forms.Form]:
    return forms.load(store.data_dir())


def catalogue() -> dict[str, forms.Form]:
    """Every 报表 of this run's data version, by id."""
    return _catalogue(data.version())


def regions_at(form: forms.Form, period: dt.date, within: str | None) -> list[str]:
    """The regions of the user's area at the form's level, under `within`, that owe a return for `period`
    (valid on its last day), in the tree's order."""
    tree, regions = data.tree(), data.regions()
    end = lineage.period_end(period, form.frequency)
    valid = {c for c, vf, vt in zip(regions["code"], regions.get("valid_from", [None] * len(regions)),
                                    regions.get("valid_to", [None] * len(regions))) if lineage.valid_on(vf, vt, end)}
    whole = _whole_tree()
    return [c for c in tree.order if c in valid and form.owed_by(whole, c) and (within is None or within in tree.path(c))]


def _whole_tree():
    """The tree of the whole region table, for where a region lies under a form's 下发单位 only: the area's own tree
    stops at the area, so a county's townships would not lie under the city that issued their form."""
    return data._tree(data.version(), None)


def forms_here(within: str | None) -> list[forms.Form]:
    """The 报表 some region under `within` (in the user's area) reports."""
    tree = data.tree()
    levels = {tree.levels[c] for c in tree.order if within is None or within in tree.path(c)}
    whole = _whole_tree()

    def meets(issuer: str | None) -> bool:  # the issuer's range and `within`'s overlap: one holds the other
        return issuer is None or within is None or issuer in whole.path(within) or within in whole.path(issuer)
    return [f for f in catalogue().values() if f.level in levels and meets(f.issued_by)]


def periods(form: forms.Form, year: int) -> list[dt.date]:
    """The form's periods of `year` that have begun, newest first; in the running year also the last one of
    the year before (in January, December's returns are the ones due)."""
    last = min(today(), dt.date(year, 12, 31))
    first = dt.date(year - 1, 1, 1) if year == today().year else dt.date(year, 1, 1)
    got = list(reversed(form.periods(first, last))) if first <= last else []
    return [p for p in got if p.year == year] + [p for p in got if p.year < year][:1]


def default_period(form: forms.Form, options: list[dt.date]) -> int:
    """The index of the period being reported now: the newest that has ended (its deadline is running), or
    the newest there is."""
    for i, p in enumerate(options):
        if lineage.period_end(p, form.frequency) < today():
            return i
    return 0


def period_picker(form: forms.Form, year: int, key: str) -> dt.date | None:
    options = periods(form, year)
    if not options:
        st.info(md(f"{year}年“{form.name}”还没有需要报送的时期。"))
        return None
    return st.selectbox("时期", options, index=default_period(form, options), key=key,
                        format_func=lambda p: forms.period_label(p, form.frequency),
                        help=f"报送时限：{form.deadline_text}")


def form_picker(options: list[forms.Form], key: str, container=st) -> forms.Form:
    ids = [f.id for f in options]
    by_id = {f.id: f for f in options}
    fid = container.selectbox("报表", ids, key=key, format_func=lambda i: f"{by_id[i].name}（{by_id[i].deadline_text}）")
    return by_id[fid]


def pick(options: list[forms.Form], year: int, key: str, widths: list[int], none: str):
    """The filter row of a return's page: 报表, 时期, and a last column for the page's own choice. Returns
    (form, period, that column); None, said on the page, when there is no 报表 (`none`, markdown) or the form
    has no period of `year` yet."""
    if not options:
        st.info(none)
        return None
    c1, c2, c3 = frame.controls().columns(widths)
    form = form_picker(options, f"{key}_form", c1)
    with c2:
        period = period_picker(form, year, f"{key}_period")
    return None if period is None else (form, period, c3)


def step(run: Callable[[cycle.Actor, str], object], done: str, tag: str = "") -> bool:
    """Take a step of the cycle as the signed-in user: on success the message is kept for the next draw and
    the page reruns (every table shows the new state); a refusal is said now, in Chinese, and its problems
    (cycle.Invalid) are kept for the cells to show. Nothing is written on a refusal."""
    try:
        run(actor(), session.source())
    except cycle.Invalid as e:
        st.session_state[PROBLEMS] = (tag, e.problems)
        errors = sum(p.level == "错误" for p in e.problems)
        st.session_state[SAID] = ("error", f"未上报：发现 {errors} 个错误、{len(e.problems) - errors} 个警告，请按提示修改。"
                                  if errors else "未上报：请先核实下列警告，勾选确认后再上报。")
        st.rerun()
    except (store.StoreError, forms.FormError) as e:
        st.error(md(e), icon=":material/block:")
        return False
    except OSError as e:
        st.error(md(f"无法写入数据目录或审计日志：{e.strerror or e}"), icon=":material/error:")
        return False
    st.session_state.pop(PROBLEMS, None)
    st.session_state[SAID] = ("success", done)
    st.rerun()
    return True


def said() -> None:
    kept = st.session_state.pop(SAID, None)
    if kept:
        getattr(st, kept[0])(md(kept[1]))


def problems(tag: str) -> list[Problem]:
    kept = st.session_state.get(PROBLEMS)
    return kept[1] if kept and kept[0] == tag else []


def history(status: cycle.Status) -> pd.DataFrame:
    """A return's steps, newest first, in words."""
    ev = status.events
    if ev.empty:
        return pd.DataFrame(columns=["时间", "操作", "操作人", "原因", "变更数"])
    at = [dt.datetime.fromisoformat(a).astimezone(cycle.CHINA).strftime("%Y-%m-%d %H:%M") for a in ev["at"]]
    out = pd.DataFrame({"时间": at, "操作": ev["event"].map(lambda e: cycle.EVENT_ZH.get(e, e)),
                        "操作人": ev["actor"], "原因": ev["reason"].fillna(""), "变更数": ev["changed"].astype("Int64")})
    return out.iloc[::-1].reset_index(drop=True)


def show_history(status: cycle.Status, key: str) -> None:
    h = history(status)
    if h.empty:
        st.caption("尚无上报记录。")
        return
    st.dataframe(h, hide_index=True, width="stretch", key=key, placeholder="—",
                 height=min(300, 35 * (len(h) + 1) + 3))


def state_line(status: cycle.Status, form: forms.Form) -> str:
    """The return's state in one markdown line (values escaped)."""
    due = form.deadline(status.key.period)
    bits = [f"**状态：{status.state_zh}**", f"截止 {due:%Y年%-m月%-d日}"]
    if status.submitted_at:
        sent = status.submitted_at.astimezone(cycle.CHINA)
        bits.append(f"上报 {sent:%Y-%m-%d %H:%M}（{md(status.submitted_by)}）"
                    + ("，迟报" if sent.date() > due else ""))
    last = status.last
    if last and last["event"] in ("approve", "return"):
        bits.append(f"{cycle.EVENT_ZH[last['event']]}：{md(last['actor'])}")
    return " · ".join(bits)


def status_box(status: cycle.Status, form: forms.Form) -> None:
    """The return's state, the reason it was sent back, and the draft kept, above its cells."""
    st.markdown(state_line(status, form))
    last = status.last
    if status.state == cycle.RETURNED and last:
        st.error(md(f"退回原因：{last['reason']}（{last['actor']}）"), icon=":material/undo:")
    if status.draft and status.state in (cycle.DRAFT, cycle.RETURNED, cycle.APPROVED):
        saved = dt.datetime.fromisoformat(status.draft["saved_at"]).astimezone(cycle.CHINA)
        st.caption(md(f"草稿保存于 {saved:%Y-%m-%d %H:%M}（{status.draft.get('saved_by', '')}）"))


# --- a return's cells ---------------------------------------------------------------------------------

def plain(v) -> str:
    """A figure as a clerk types it: no thousands separators, no trailing zeros."""
    return "" if v is None or pd.isna(v) else f"{float(v):.6f}".rstrip("0").rstrip(".")


def starting_cells(status: cycle.Status) -> dict:
    """What the rows start from: the saved draft, else the last return sent (to correct a returned one), else
    nothing."""
    if status.draft:
        return status.draft.get("cells", {})
    if not status.values.empty:
        return {r["indicator_id"]: {f: plain(r[f]) for f in FIELDS} for r in status.values.to_dict("records")}
    return {}


def tag_of(key: cycle.Key) -> str:
    """A short name for a return's widgets: another return, other widgets (and their own values)."""
    return hashlib.sha256(f"{key.form_id}|{key.region_code}|{key.period}".encode()).hexdigest()[:10]


def by_row(sent: list[str], found: list[Problem]) -> tuple[dict, list]:
    """A check's problems by indicator (row n + 2 of the return is sent[n], cycle.sent_indicators) and those
    of no one row."""
    rows, general = {}, []
    for p in found:
        if p.row is not None and 2 <= p.row < len(sent) + 2:
            rows.setdefault(sent[p.row - 2], []).append(p)
        else:
            general.append(p)
    return rows, general


# --- progress, cached by data version and area ------------------------------------------------------

@st.cache_data(max_entries=64, show_spinner=False)
def _cells(ver: str, area: str | None, form_id: str, first: dt.date, last: dt.date, within: str | None,
           day: dt.date) -> pd.DataFrame:
    form = forms.load(store.data_dir())[form_id]
    table = progress.cells(store.data_dir(), form, form.periods(first, last), area=within or area, today=day)
    return table


def cells(form: forms.Form, first: dt.date, last: dt.date, within: str | None) -> pd.DataFrame:
    """progress.cells for the periods of [first, last], under `within` (inside the user's area)."""
    return _cells(data.version(), data.area(), form.id, first, last, within, today())


def coverage_line(sc: Selection) -> None:
    """The returns due now under the page's region, 已报 n/N per 报表, with a link to 报送进度 (not on slides)."""
    if sc.present:
        return
    got = coverage(sc)
    if got:
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        c1.caption(T("报送进度") + "：" + "　".join(md(g) for g in got))
        c2.page_link(pages.get("progress").script, label=T("查看报送进度"), icon=":material/checklist:")


def coverage(sc: Selection) -> list[str]:
    """已报 n/N of every 报表 reported under the page's region, for the period being reported now: the words
    other pages show under their title (the 报送进度 page's own source)."""
    out = []
    for form in forms_here(sc.region):
        if form.level == sc.region_level:
            continue
        options = periods(form, today().year)  # the running year's, and the last of the year before
        if not options:
            continue
        period = options[default_period(form, options)]
        t = cells(form, period, period, sc.region)
        if t.empty:
            continue
        n, total = int(t["reported"].sum()), len(t)
        out.append(f"{form.name}{forms.period_label(period, form.frequency)} 已报 {n}/{total}")
    return out
