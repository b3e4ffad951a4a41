"""Data shown as the text it is: one escaper for each renderer a value can reach.

Names, units, departments, tasks, sources, file and user names come from files anyone may hand an
admin, and the pages draw them with three renderers that each turn some text into markup:

- Streamlit's markdown — `st.markdown`, captions, alerts, metric labels and their `help`, every
  widget label, pills and segmented-control options, expander labels (selectbox and multiselect
  options and dataframe cells are plain text). Streamlit 1.67 parses CommonMark with GFM (bare
  URLs become links, ``![x](url)`` an image the browser fetches), raw HTML (shown as text unless
  `unsafe_allow_html`), KaTeX for ``$…$``, its directives ``:red[…]``, ``:orange-badge[…]``,
  ``:small[…]``, and after parsing it replaces ``:material/icon:``, ``:streamlit:``, emoji
  shortcodes (``:smile:``) and `` -> ``, `` <= `` … with symbols. → `markdown`.
- raw HTML (`st.html`, the map legend) → `html`.
- Plotly's text (titles, legend, axis ticks, hover labels): a few tags (``<b>``, ``<a href>``,
  ``<span style>``, ``<br>``) and the entities ``&lt; &gt; &amp; &#…;`` → `plotly`.

pydeck tooltips need nothing here: Streamlit escapes each value it fills into the tooltip's HTML.
"""

from __future__ import annotations

import html as _html
import re

# CommonMark lets a backslash escape any ASCII punctuation, and an escaped character is text to
# every construct. These start one anywhere in a line: emphasis, code, links and images, HTML and
# entities, tables, strikethrough, math ($: Streamlit looks for it only outside escapes) and
# directives (:red[…] starts only at an unescaped colon). Commas, points, %, / stay as they are.
_ANYWHERE = re.compile(r"([\\`*_{}\[\]()#!|~<>$:&])")
# and these only at the start of a line, where a value may land: list items (- + 1. 1))
_LEADING = re.compile(r"^(\s*)([-+](?=\s|$)|\d{1,9}(?=\.(?:\s|$)))")
# What is rewritten in the text after parsing, where no backslash reaches: GFM's bare links
# (http://…, www.…, a@b.cn), Streamlit's shortcodes between colons (:smile:, :streamlit:), its
# icons (:material/… is rewritten before parsing, escapes or not) and its typographic pairs
# (-> <- -- >= <= ~=). A word joiner (U+2060: invisible, no width) splits them.
WORD_JOINER = "\u2060"
_REWRITTEN = re.compile(r":(?=//|material/|[A-Za-z0-9_+-]+:)|(?i:www)(?=\.)|@|-(?=[->])|<(?=[-=])|[>~](?==)")
_BREAKS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")  # a line break would start a new block
_DIRECTION = re.compile("[\u202a-\u202e\u2066-\u2069]")  # overrides that reorder what is shown ("x\u202egpj.csv")


def markdown(value) -> str:
    """`value` as Streamlit markdown that renders as exactly its text (None as ""; line breaks become
    spaces and direction overrides are dropped, so the text shows in the order it is stored)."""
    if value is None:
        return ""
    text = _DIRECTION.sub("", _BREAKS.sub(" ", str(value)))
    text = _REWRITTEN.sub(lambda m: m.group(0) + WORD_JOINER, text)
    text = _ANYWHERE.sub(r"\\\1", text)
    return _LEADING.sub(lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) in "-+" else m.group(2) + "\\"), text)


def html(value) -> str:
    """`value` as HTML text or attribute value (None as "")."""
    return "" if value is None else _html.escape(str(value), quote=True)


def plotly(value) -> str:
    """`value` as Plotly text: its tags and entities escaped (Plotly knows &lt; &gt; &amp; but
    not &quot;, so quotes stay as they are)."""
    if value is None:
        return ""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
