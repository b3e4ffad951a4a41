"""Chinese all the way (issue 13, item 6): no internal names or raw values on any page in Chinese mode,
Streamlit's own English strings translated or hidden, XLSX files that open filtered and wide enough,
and English mode's units written as an English reader counts."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from conftest import ROOT, app
from minsheng.ui import pages

INDICATORS = pd.read_parquet(ROOT / "data" / "indicators.parquet")
# internal names a user should never read: the tables' field names and the catalogue's ids
INTERNAL = {"indicator_id", "region_code", "None", "nan", "NaN", "value（原）", "provisional", "final",
            *INDICATORS["id"]}
ID_RE = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(re.escape(w) for w in sorted(INTERNAL, key=len, reverse=True))
                   + r")(?![A-Za-z0-9_])")
# a float the page did not format: more than two decimals (no indicator is shown with more)
RAW_FLOAT = re.compile(r"(?<![\d.])\d+\.\d{3,}(?![\d])")


def texts(at) -> list[tuple[str, str]]:
    """Every text an AppTest run shows: (where, text) for markdown, captions, alerts, labels, metrics,
    widget options and values, and every dataframe's column names and cells."""
    out = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success",
                 "latex", "code"):
        for el in getattr(at, kind):
            out.append((kind, str(el.value)))
    for el in at.get("html"):  # presentation mode's title and footer, drawn with st.html
        out.append(("html", re.sub(r"<[^>]+>", " ", str(el.proto.body))))
    for el in at.metric:
        out += [("metric", str(el.label)), ("metric", str(el.value)), ("metric", str(el.delta or ""))]
    for kind in ("selectbox", "multiselect", "radio", "segmented_control", "pills"):
        for el in at.get(kind):
            out.append((f"{kind} label", str(el.label)))
            out += [(f"{kind} option", str(o)) for o in getattr(el, "options", [])]
            if getattr(el, "placeholder", None):
                out.append((f"{kind} placeholder", str(el.placeholder)))
    for kind in ("checkbox", "toggle", "button", "number_input", "text_input", "download_button"):
        for el in at.get(kind):
            out.append((f"{kind} label", str(getattr(el, "label", ""))))
    for el in at.get("dataframe"):
        df = el.value
        df = df.data if hasattr(df, "data") and not isinstance(df, pd.DataFrame) else df
        config = json.loads(el.proto.columns or "{}")
        out += [("dataframe column", str(c)) for c in df.columns if not config.get(str(c), {}).get("hidden")]
        for col in df.columns:
            if config.get(str(col), {}).get("hidden"):
                continue
            # a printf format with a precision (%.1f) rounds what the grid draws; "localized" or none does not
            rounded = re.search(r"%[-+ 0#]*\d*\.\d+f", config.get(str(col), {}).get("type_config", {}).get("format", "") or "")
            for v in df[col].head(300):
                if isinstance(v, float):  # a float the grid draws as is: it must not need rounding
                    out.append((f"cell {col}", repr(v) if pd.notna(v) and not rounded and round(v, 2) != v else "ok"))
                else:
                    out.append((f"cell {col}", "" if v is None or v is pd.NA else str(v)))
    return [(where, re.sub(r"\\(.)", r"\1", text)) for where, text in out]  # markdown's escapes, as drawn


def offenders(at) -> list[tuple[str, str]]:
    bad = []
    for where, text in texts(at):
        if where.startswith("cell") and text in ("None", "nan", "<NA>"):
            bad.append((where, text))
        elif ID_RE.search(text) or RAW_FLOAT.search(text):
            bad.append((where, text[:160]))
    return bad


@pytest.mark.parametrize("page", [p.key for p in pages.PAGES])
def test_no_internal_names_or_raw_values_on_any_page(page):
    at = app(page)
    assert texts(at), "the walk found no text at all"
    assert offenders(at) == []
