"""导入: templates, upload, validation with every problem listed, preview, atomic commit, history and rollback (admins only)."""

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st

from minsheng import changes, cycle, export, safe_cells, vocab
from minsheng.ingest import pipeline, readers, start, template
from minsheng.ingest.problems import as_frame
from minsheng.ui import data, exports, frame, grids, outcome, session, text, versions

KIND_LABEL = {None: "自动识别", **vocab.FILES.labels}
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def inputs(sc, indicators: pd.DataFrame) -> dict:
    upload = st.file_uploader("选择要导入的文件", type=["xlsx", "xls", "csv", "parquet", "geojson", "json"], key="imp_file",
                              help=f"单个文件不超过 {readers.MAX_BYTES // 1024 // 1024} MB；CSV 可为 UTF-8 或 GBK 编码")
    c1, c2, c3, c4 = st.columns([2, 3, 2, 2])
    kind = c1.selectbox("数据类型", list(KIND_LABEL), format_func=KIND_LABEL.get, key="imp_kind")
    label = frame.indicator_label(indicators)
    indicator = c2.selectbox("宽表对应的指标", [None, *indicators["id"]], key="imp_ind",
                             format_func=lambda i: "（长表不需选择）" if i is None else label(i),
                             help="一行一个区划、一列一个年份或月份的表格，需指定是哪个指标")
    within = c3.selectbox("按名称匹配区划的范围", [sc.region, None] if sc.region else [None], key="imp_within",
                          format_func=lambda c: "全部区划" if c is None else sc.region_name,
                          help="文件只写区划名称时，在此范围内查找，避免重名")
    factor = c4.number_input("同比变化提醒倍数", min_value=1.5, max_value=100.0, value=3.0, step=0.5, key="imp_factor",
                             help="数值与上年同期相比变化超过该倍数时给出警告")
    crs = None
    if upload is not None and upload.name.lower().endswith((".geojson", ".json")):
        crs = st.radio("边界坐标系", ["wgs84", "gcj02"], horizontal=True, key="imp_crs",
                       format_func={"wgs84": "WGS84 / CGCS2000（天地图、官方数据）",
                                    "gcj02": "GCJ-02（高德、DataV，导入时转换为 WGS84）"}.get)
    return dict(upload=upload, kind=kind, indicator=indicator, within=within, factor=factor, crs=crs)


def load(f: dict) -> pipeline.Plan | None:
    """Validate and preview the uploaded file once per file and settings (kept for the commit click)."""
    up = f["upload"]
    payload = up.getvalue()
    # by content: a corrected file of the same name and size is a new file
    key = (hashlib.sha256(payload).hexdigest(), f["kind"], f["indicator"], f["within"], f["factor"], data.version(),
           versions.user_area())
    cached = st.session_state.get("_imp_plan")
    if cached and cached[0] == key:
        return cached[1]
    bar = st.progress(0.0, text="读取文件…")
    plan = pipeline.prepare(payload, up.name, kind=f["kind"], indicator=f["indicator"], within=f["within"],
                            factor=f["factor"], progress=lambda x, text: bar.progress(x, text=text), area=versions.user_area())
    bar.empty()
    st.session_state["_imp_plan"] = (key, plan)
    return plan


def problems_table(problems: list, errors: int, note: str = "") -> pd.DataFrame:
    table = as_frame(sorted(problems, key=lambda p: (p.level != "错误", p.sheet or "", p.row or 0)))
    (st.error if errors else st.warning)(f"发现 {errors} 个错误、{len(problems) - errors} 个警告。" + note)
    st.dataframe(table, placeholder="—", hide_index=True, width="stretch", height=min(420, 35 * (len(table) + 1) + 3))
    return table


def boundaries(f: dict) -> None:
    """Polygons for the map: checked, converted to WGS84 if needed, committed as a new version."""
    up = f["upload"]
    payload, name = up.getvalue(), Path(up.name).name  # the file's name is only a label, never a path
    levels, problems = changes.check_boundaries(payload, name, crs=f["crs"], user_area=versions.user_area())
    errors = [p for p in problems if p.level == "错误"]
    if problems:
        problems_table(problems, len(errors))
    if errors or not levels:
        return
    st.markdown("**将导入的边界：** " + "，".join(f"{vocab.LEVELS.label(lv)} {len(fc['features'])} 个"
                                                  for lv, fc in levels.items()))
    confirmed = not problems or st.checkbox("我已核实上述警告，仍要导入", key="imp_geo_confirm")
    if st.button("提交边界", type="primary", disabled=not confirmed, key="imp_geo_commit"):
        outcome.attempt(lambda **who: changes.commit_boundaries(levels, file=name, sha256=hashlib.sha256(payload).hexdigest(),
                                                        size=len(payload), user_area=versions.user_area(), **who),
                "已导入边界，生成数据版本 {version}。", "提交失败，数据未改变：{error}")


def render_templates(indicators: pd.DataFrame) -> None:
    with st.expander("下载填报模板", icon=":material/description:", expanded=data.first_run()):  # a new store: open
        st.caption("模板含“说明”工作表、列名批注，以及指标编码、区划代码的下拉选项。" + start.order_note(data.first_run()))
        regions = data.regions()
        for col, kind in zip(st.columns(len(vocab.FILES.codes)), vocab.FILES.codes):
            col.download_button(f"{vocab.FILES.label(kind)}模板",
                                exports.audited(lambda kind=kind: template.template_bytes(kind, indicators, regions),
                                                format="xlsx", template=kind, regions=len(regions)),
                                file_name=f"{vocab.FILES.label(kind)}导入模板.xlsx", key=f"tpl_{kind}", on_click="ignore",
                                mime=XLSX_MIME)


def locked(plan: pipeline.Plan) -> str:
    """Approved returns the file changes (the reporting cycle locks them): named, and a reason asked for."""
    if not plan.locked:
        return ""
    st.warning(text.md(f"以下 {len(plan.locked)} 份报表已审核通过并锁定，本次导入会修改其数据；须填写修改原因，"
                       "提交后这些报表重新进入审核：" + "、".join(x.label for x in plan.locked[:20])
                       + ("等" if len(plan.locked) > 20 else "")), icon=":material/lock:")
    return st.text_input("修改原因", key="imp_reason", max_chars=cycle.REASON_LIMIT, placeholder="必填：说明为何修改已通过的数据")


def render(plan: pipeline.Plan) -> None:
    """The file's problems, or what it would change and the commit button."""
    errors, warnings = plan.errors, plan.warnings
    st.markdown(f"**{text.md(plan.file)}** · {vocab.FILES.label(plan.kind)} · SHA-256 `{plan.sha256[:12]}…`")
    if plan.problems:
        table = problems_table(plan.problems, len(errors), "有错误时不能导入，请修改文件后重新上传。" if errors else "")
        st.download_button("下载问题清单（CSV）",
                           exports.audited(lambda: export.to_csv(table), format="csv", problems=len(plan.problems),
                                           file=plan.file, sha256=plan.sha256),
                           f"{safe_cells.file_name(plan.file)}_问题清单.csv", mime="text/csv", key="imp_problems",
                           on_click="ignore")
    if errors:
        return
    c = plan.counts
    for col, what in zip(st.columns(3), ("新增", "修改", "未变")):
        col.metric(f"{what}行", f"{c.get(what, 0):,}")
    if plan.changes is not None and not plan.changes.empty:
        st.markdown("**将被修改的内容（原 → 新）**")
        shown = grids.preview(plan.changes.head(500), plan.kind, data.indicators(), data.tree().labels)
        st.dataframe(shown, placeholder="—", hide_index=True, width="stretch", column_config=grids.column_config(shown))
    confirmed = not warnings or st.checkbox(f"我已核实上述 {len(warnings)} 个警告，仍要导入", key="imp_confirm")
    reason = locked(plan)
    if st.button("提交导入", type="primary", disabled=not confirmed or not (c.get("新增") or c.get("修改"))
                 or (bool(plan.locked) and not reason.strip()), key="imp_commit", icon=":material/cloud_upload:"):
        if outcome.attempt(lambda **who: changes.commit(plan, accept_warnings=confirmed, reason=reason or None, **who),
                   "已导入，生成数据版本 {version}。各页面已使用新数据；如需撤销，可在下方“历史版本”中回退。",
                   "提交失败，数据未改变：{error}"):
            st.session_state.pop("_imp_plan", None)


sc, _ = frame.start(period="数据导入与版本")  # the 导入 page stays Chinese
versions.pending_rollback()
indicators = data.indicators()
if not session.can("import"):
    st.error("无权限：导入数据、回退版本仅限管理员。如需导入，请联系管理员。", icon=":material/block:")
    st.stop()
render_templates(indicators)
f = inputs(sc, indicators)
if f["crs"]:
    boundaries(f)
elif f["upload"] is None:
    st.info("上传乡镇、部门报来的 Excel 或 CSV。系统会先逐行检查并预览新增和修改，确认后才写入；每次写入都生成新版本，可随时回退。")
else:
    plan = load(f)
    render(plan)
st.divider()
outcome.show()
versions.render_history()
frame.footer(sc, [])
