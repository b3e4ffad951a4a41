"""填报: a reporter's return for one 报表 × region × period — one row per indicator, checked cell by cell with
the importer's own rules and messages, a draft kept, 上报 for review; or the filled template uploaded. The
return's state and history beside it (minsheng/cycle.py)."""

import pandas as pd
import streamlit as st

from minsheng import cycle, fmt, forms, safe_cells
from minsheng.ingest import template
from minsheng.ingest.problems import as_frame
from minsheng.ui import data, exports, frame, reporting, session, text

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def inputs(sc) -> tuple[forms.Form, cycle.Key] | None:
    options = reporting.forms_here(sc.region)
    picked = reporting.pick(options, sc.year, "rep", [3, 2, 3], text.md(
        f"{sc.region_name}及其下级没有需要填报的报表。报表由管理员在“导入”页导入（数据类型“报表”）。"))
    if picked is None:
        return None
    form, period, c3 = picked
    codes = reporting.regions_at(form, period, sc.region)
    if not codes:
        st.info(text.md(f"{sc.region_name}下没有{forms.period_label(period, form.frequency)}须报“{form.name}”的区划。"))
        return None
    tree = data.tree()
    code = c3.selectbox("填报单位", codes, key="rep_region", format_func=tree.label)
    return form, cycle.Key(form.id, code, period)


def load(form: forms.Form, key: cycle.Key) -> dict:
    directory = reporting.directory()
    status = cycle.status(directory, key)
    ind = data.indicators().set_index("id")
    near = cycle.neighbours(directory, key, form).set_index("indicator_id")
    return dict(status=status, indicators=ind, near=near)


def render_form(form: forms.Form, key: cycle.Key, loaded: dict) -> None:
    status, ind, near = loaded["status"], loaded["indicators"], loaded["near"]
    tag = reporting.tag_of(key)
    locked = status.state == cycle.SUBMITTED
    start = reporting.starting_cells(status)
    kept = reporting.problems(tag)
    sent = st.session_state.get(f"_rep_sent_{tag}", [])
    by_row, general = reporting.by_row(sent, kept)
    for p in general:
        (st.error if p.level == "错误" else st.warning)(text.md(p.message), icon=":material/error:")
    rates = any(ind.loc[i, "kind"] == "rate" for i in form.indicators if i in ind.index)
    with st.form(f"rep_form_{tag}", border=True, enter_to_submit=False):
        widths = [4, 2, 2, 3] + ([2, 2] if rates else [])
        head = st.columns(widths)
        for col, word in zip(head, ["指标", "上期", "去年同期", "本期数值", "分子", "分母"]):
            col.markdown(f"**{word}**")
        got = {}
        for iid in form.indicators:
            row = ind.loc[iid] if iid in ind.index else None
            name = row["name_zh"] if row is not None else iid
            u = row["unit"] if row is not None else ""
            cols = st.columns(widths, vertical_alignment="center")
            cols[0].markdown(f"{text.md(name)}（{text.md(u)}）")
            for col, what in zip(cols[1:3], ("last_period", "last_year")):
                v = near[what].get(iid) if iid in near.index else None
                col.markdown(text.md(fmt.exact(v, 0)) if v is not None and not pd.isna(v) else "—")
            got[iid] = {}
            for col, f in zip(cols[3:], reporting.FIELDS if rates else reporting.FIELDS[:1]):
                if f != "value" and (row is None or row["kind"] != "rate"):
                    continue
                got[iid][f] = col.text_input(reporting.FIELD_ZH[f], value=str(start.get(iid, {}).get(f, "")),
                                             key=f"rep_{tag}_{iid}_{f}", label_visibility="collapsed",
                                             disabled=locked, placeholder=reporting.FIELD_ZH[f])
            for p in by_row.get(iid, []):
                st.markdown(f":{'red' if p.level == '错误' else 'orange'}[{text.md(p.level)}："
                            f"{text.md(p.column + ' ' if p.column else '')}{text.md(p.message)}]")
        reason = None
        if status.state == cycle.APPROVED:
            st.warning("本期已通过审核并锁定。修改须填写原因，修改后重新审核。", icon=":material/lock:")
            reason = st.text_input("修改原因（必填）", key=f"rep_{tag}_reason", max_chars=cycle.REASON_LIMIT)
        warned = any(p.level == "警告" for p in kept)
        accept = st.checkbox("我已核实上述警告，仍要上报", key=f"rep_{tag}_accept") if warned else False
        b1, b2, b3 = st.columns(3)
        checked = b1.form_submit_button("检查", disabled=locked, icon=":material/rule:", key="rep_check")
        drafted = b2.form_submit_button("保存草稿", disabled=locked, icon=":material/save:", key="rep_draft")
        sent_now = b3.form_submit_button("上报", type="primary", disabled=locked, icon=":material/send:",
                                         key="rep_submit")
    if locked:
        st.info("已上报，正在等待审核，不能修改。如需修改，请联系审核人退回。", icon=":material/hourglass_top:")
    if not (checked or drafted or sent_now):
        return
    st.session_state[f"_rep_sent_{tag}"] = cycle.sent_indicators(form, got)
    directory = reporting.directory()
    if drafted:
        reporting.step(lambda who, src: cycle.save_draft(directory, who, key, got, source=src),
                       "已保存草稿（尚未上报）。", tag)
    elif checked:
        check(directory, key, got, tag)
    else:
        reporting.step(lambda who, src: cycle.submit(directory, who, key, cells_in=got, reason=reason,
                                                     accept_warnings=accept, source=src),
                       f"已上报 {key.label(form, data.tree())}，等待上级审核。", tag)


def check(directory, key: cycle.Key, got: dict, tag: str) -> None:
    """检查: the importer's checks on the cells, nothing written; the problems stay beside their rows."""
    try:
        plan = cycle.check(directory, reporting.actor(), key, cells_in=got)
    except (cycle.CycleError, forms.FormError) as e:
        st.error(text.md(e), icon=":material/block:")
        return
    st.session_state[reporting.PROBLEMS] = (tag, plan.problems)
    st.session_state[reporting.SAID] = (("error", f"发现 {len(plan.errors)} 个错误，请按提示修改。") if plan.errors else
                                        ("warning", f"没有错误，有 {len(plan.warnings)} 个警告，请核实。")
                                        if plan.warnings else ("success", "检查通过，可以上报。"))
    st.rerun()


def render_upload(form: forms.Form, key: cycle.Key, loaded: dict) -> None:
    """The filled template for this region and period, uploaded: the same checks and the same 上报."""
    status = loaded["status"]
    with st.expander("上传填好的模板", icon=":material/upload_file:"):
        regions = data.regions()
        st.download_button(
            "下载本报表的填报模板",
            exports.audited(lambda: template.template_bytes(
                "observations", data.indicators()[data.indicators()["id"].isin(form.indicators)],
                regions[regions["code"] == key.region_code]), format="xlsx", template="observations", form=form.id,
                region=key.region_code),
            file_name=safe_cells.file_name(f"{form.name}_{data.tree().names[key.region_code]}_填报模板") + ".xlsx", mime=XLSX_MIME,
            key="rep_template", on_click="ignore")
        up = st.file_uploader("选择填好的文件", type=["xlsx", "xls", "csv"], key="rep_upload",
                              disabled=status.state == cycle.SUBMITTED)
        reason = st.text_input("修改原因（必填）", key="rep_up_reason") if status.state == cycle.APPROVED else None
        if up is None:
            return
        accept = st.checkbox("我已核实警告，仍要上报", key="rep_up_accept")
        if st.button("上传并上报", type="primary", key="rep_up_submit", icon=":material/send:"):
            payload = up.getvalue()
            directory = reporting.directory()
            reporting.step(lambda who, src: cycle.submit(directory, who, key, data=payload, file=up.name,
                                                         reason=reason, accept_warnings=accept, source=src),
                           f"已上报 {key.label(form, data.tree())}（文件 {up.name}），等待上级审核。", "upload")
        if reporting.problems("upload"):
            st.dataframe(as_frame(reporting.problems("upload")), hide_index=True, width="stretch", placeholder="—")


def render(form: forms.Form, key: cycle.Key, loaded: dict) -> None:
    reporting.status_box(loaded["status"], form)
    render_form(form, key, loaded)
    render_upload(form, key, loaded)
    st.markdown("**上报记录**")
    reporting.show_history(loaded["status"], "rep_history")


sc, T = frame.start()
if not session.can("submit"):
    st.error("无权限：填报仅限填报员和管理员。", icon=":material/block:")
    st.stop()
reporting.said()
picked = inputs(sc)
if picked:
    form, key = picked
    loaded = load(form, key)
    render(form, key, loaded)
frame.footer(sc, [])
