"""Streamlit's own words in the UI language: what 1.67 draws in English and offers no option for.

Streamlit 1.67 has no locale setting. What it lets a page set is set where the widget is made
(placeholders, `select_all=False`, `client.toolbarMode = "minimal"` in .streamlit/config.toml, which
drops the main menu with Print, Settings, Record a screencast, About and "Made with Streamlit");
the fixed texts below are replaced in CSS: the original text is set to size 0 and the translation
drawn in its place with `::after`, so layout and behaviour stay Streamlit's. What cannot be reached
this way is listed in the README ("Streamlit's own strings").
"""

from __future__ import annotations

import json

import streamlit as st

from minsheng import i18n

UPLOAD_TYPES = "XLSX、XLS、CSV、Parquet、GeoJSON"  # the 导入 page's uploader (views/import_page.py) takes these
LIMITED = {"指标（可多选）": 6}  # multiselects with max_selections (views/trend.py): label → the most


def _content(text: str) -> str:
    """A CSS string literal (JSON's escaping is valid CSS for these characters)."""
    return json.dumps(text, ensure_ascii=False)


def _replace(selector: str, text: str, size: str = "inherit") -> str:
    return (f"{selector} {{ font-size: 0 !important; }}\n"
            f"{selector}::after {{ content: {_content(text)}; font-size: {size}; }}\n")


def css(lang: str, upload_mb: int) -> str:
    """The replacements for `lang`. A multiselect with max_selections (LIMITED, by label) shows its empty
    list also when no more can be chosen, so it says both."""
    t = lambda s, **v: i18n.t(s, lang, **v)  # noqa: E731
    if lang == "en":  # Streamlit's words are English already; only what must never be cut applies
        return METRICS_CSS
    drop = '[data-testid="stFileUploaderDropzone"]'
    out = [
        _replace('[data-testid="stSkipToContent"]', t("跳到正文"), "1rem"),
        _replace(f'{drop} > span > button [data-testid="stMarkdownContainer"] p', t("上传"), "0.875rem"),
        _replace('[data-testid="stFileUploaderDropzoneInstructions"] span',
                 t("单个文件不超过 {mb} MB · {types}", mb=upload_mb, types=UPLOAD_TYPES), "0.875rem"),
        # while a file is dragged over it, the zone says "Drag and drop a file here" in a div of its own
        _replace(f'{drop} > div:not([data-testid]) > span', t("将文件拖到这里"), "1rem"),
        _replace('[data-testid="stStatusWidget"] button', t("停止"), "0.875rem"),
        _replace('[role="listbox"][data-empty="true"] [role="option"] > span', t("没有匹配的选项"), "0.875rem"),
    ]
    for label, most in LIMITED.items():
        out.append(_replace(f'[role="listbox"][data-empty="true"][aria-label={_content(t(label))}] [role="option"] > span',
                            t("没有匹配的选项，或已选满 {n} 项", n=most), "0.875rem"))
    for english, zh in TOOLBAR.items():  # a toolbar button's tooltip is drawn in a portal while it is hovered
        out.append(_replace(f'body:has([data-testid="stElementToolbar"] button[aria-label={_content(english)}]'
                            f':is(:hover, :focus-visible)) [data-testid="stTooltipContent"] p', t(zh), "0.875rem"))
    for english, zh in MODEBAR.items():  # Plotly draws its modebar tooltips from data-title in ::after
        out.append(f'.modebar-btn[data-title={_content(english)}]::after {{ content: {_content(t(zh))} !important; }}\n')
    return "".join(out) + METRICS_CSS


# the tooltips of the toolbar over every table and chart (Streamlit's element toolbar), by aria-label
TOOLBAR = {"Show/hide columns": "显示/隐藏列", "Search": "搜索", "Fullscreen": "全屏", "Close fullscreen": "退出全屏",
           "Download as CSV": "下载 CSV"}
# Plotly's modebar over each chart (data-title of each button; it has no download: charts.PLOTLY_CONFIG)
MODEBAR = {"Zoom": "框选放大", "Pan": "平移", "Zoom in": "放大",
           "Zoom out": "缩小", "Autoscale": "自动缩放", "Reset axes": "还原坐标轴", "Fullscreen": "全屏",
           "Box Select": "框选", "Lasso Select": "套索选择"}


# st.metric cuts a long value with an ellipsis ("10,852 元/人…") and its label too ("困难残疾人生活补…"):
# both wrap instead. A value wraps balanced, so "12,214 元/人·年" breaks at its space, not after the "/"
METRICS_CSS = """
[data-testid="stMetricValue"] .stMarkdownEllipsis, [data-testid="stMetricValue"] p,
[data-testid="stMetricLabel"] .stMarkdownEllipsis, [data-testid="stMetricLabel"] p {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }
[data-testid="stMetricValue"] .stMarkdownEllipsis { line-height: 1.15; text-wrap: balance; word-break: keep-all; }
[data-testid="stMetricLabel"] > div:first-child { min-width: 0; flex: 1 1 auto; }
"""


def inject(lang: str) -> None:
    """Once per run, before anything is drawn (the sign-in form too): a style block that takes no room."""
    st.html(f"<style>{css(lang, int(st.get_option('server.maxUploadSize')))}</style>")
