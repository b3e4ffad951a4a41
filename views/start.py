"""开始使用: what a new data directory needs, in what order, with the templates; shown until there is data to see."""

import streamlit as st

from minsheng import vocab
from minsheng.ingest import start, template
from minsheng.ui import data, exports, frame, pages, session

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def load() -> list[start.Step]:
    """Where each step of loading stands, from the tables of the store (all zero in a new directory)."""
    return start.steps(data.loaded())


def render_step(number: int, step: start.Step, downloads: bool) -> None:
    with st.container(border=True):
        left, right = st.columns([4, 1])
        mark = ":green-badge[:material/check: " if step.done else ":gray-badge["
        left.markdown(f"**{number}. {step.title}**{'（可选）' if step.optional else ''}　{mark}{step.status}]")
        left.caption(step.what + "。" + start.template_hint(step.kind))
        if downloads and step.kind in vocab.FILES:
            # the template lists the regions and indicators already loaded in its drop-downs (the user's
            # area's): a download like any other, for the roles that export, built when clicked and audited
            kind, indicators, regions = step.kind, data.indicators(), data.regions()
            right.download_button(f"{vocab.FILES.label(kind)}模板",
                                  exports.audited(lambda: template.template_bytes(kind, indicators, regions),
                                                  format="xlsx", template=kind, regions=len(regions)),
                                  file_name=f"{vocab.FILES.label(kind)}导入模板.xlsx", mime=XLSX_MIME,
                                  key=f"start_tpl_{kind}", on_click="ignore", icon=":material/download:")


def render(steps: list[start.Step]) -> None:
    st.markdown("数据目录中还没有可显示的数据。请按下列顺序导入：先导入**区划代码表**（其余文件都按区划代码对应），"
                "再导入**指标目录**，然后是各地报送的**指标数据**；目标任务和边界可随后补充。"
                "区划、指标和指标数据都导入后，各页面即显示数据。")
    downloads = session.can("export")
    if not downloads:
        st.caption("下载填报模板需要“分析”或“管理员”角色。")
    for number, step in enumerate(steps, 1):
        render_step(number, step, downloads)
    if not steps[0].done and session.mode() != "single":  # a signed-in admin imports inside an area: none yet
        st.warning(start.FIRST_REGIONS_BY_AREA, icon=":material/info:")
    if session.can("import"):
        st.page_link(pages.get("import").script, label="前往“导入”页上传文件", icon=":material/upload_file:")
    else:
        st.info("导入数据仅限管理员：请联系管理员按上述顺序导入。", icon=":material/info:")
    st.caption("也可在命令行导入：MINSHENG_DATA=<数据目录> python -m minsheng import <文件>（新目录在首次导入时自动创建）。")


# no footer: there is no region, source or data date to cite yet (it read "区域：新数据目录（）")
frame.start(period="尚未导入数据")
render(load())
