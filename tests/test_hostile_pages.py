"""Every page on data with hostile text in every field (tests/hostile_support.py), run with AppTest:
no markdown the page sends — alerts, captions, headings, metric labels, values and help, widget
labels and help, pill options, expander labels — holds a payload's markup outside a backslash
escape. The browser half (what is drawn, what is fetched) is tests/test_browser_hostile.py.
"""

from __future__ import annotations

import re

import pytest
from google.protobuf.descriptor import FieldDescriptor
from streamlit.testing.v1 import AppTest

from conftest import JIA, ROOT
from hostile_support import LITERAL, hostile_data
from minsheng.ui import pages

# the proto fields Streamlit's frontend renders as markdown (selectbox and multiselect options,
# placeholders, chart specs and table cells are plain text or data)
MARKDOWN_FIELDS = {"body", "label", "help", "content"}
# what a payload's markup looks like once every backslash escape is taken out of the source
SIGNS = ("<iframe", "<img", "<script", "<a ", "<b>", "](", ":red[", "$\\alert$", "$x^2$", "://", "**粗**", "=HYPERLINK(")
_ESCAPED = re.compile(r"\\[!-/:-@\[-`{-~]")


def markdown_sources(node):
    """Every markdown string under an AppTest node, with where it was."""
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "ListFields") and type(node).__name__ != "Html":  # raw HTML, escaped
        yield from _strings(proto, type(node).__name__)
    children = getattr(node, "children", None)
    for child in (children.values() if isinstance(children, dict) else []):
        yield from markdown_sources(child)


def _strings(msg, where):
    for field, value in msg.ListFields():
        values = value if field.is_repeated else [value]
        for v in values:
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                yield from _strings(v, where)
            elif field.type == FieldDescriptor.TYPE_STRING and field.name in MARKDOWN_FIELDS:
                yield where, v


@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile_pages")
    hostile_data(d / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINSHENG_DATA", str(d / "data"))
        mp.setenv("MINSHENG_USERS", str(d / "users.json"))
        mp.setenv("MINSHENG_AUDIT", str(d / "audit.log"))
        yield


VISITS = [
    ("overview", {}), ("overview", {"region": JIA, "lang": "en"}), ("trend", {"inds": ["rate", "std", "cnt"]}),
    ("trend", {"inds": ["rate", "amt"], "lang": "en", "grain": "month"}), ("map", {"ind": "rate"}),
    ("map", {"ind": "rate", "region": JIA}), ("map", {"ind": "amt", "lang": "en"}), ("goals", {}),
    ("explore", {"xinds": ["rate", "std", "amt"], "xlevel": "township"}), ("import", {}),
    ("overview", {"region": "[点我](http://198.51.100.7/)"}),  # a region named in the URL is echoed back
]


@pytest.mark.parametrize("key,params", VISITS, ids=[f"{k}-{'-'.join(p)}" for k, p in VISITS])
def test_no_payload_markup_reaches_markdown(hostile_env, key, params):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    if key != "overview":
        at.switch_page(pages.get(key).script)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    sources = list(markdown_sources(at._tree))
    assert sources, "the page sent no markdown"
    leaks = [(where, s) for where, s in sources if any(sign in _ESCAPED.sub("", s) for sign in SIGNS)]
    assert not leaks
    if key == "overview" and not params:  # and the names are there, escaped, not dropped
        labels = [m.label for m in at.metric]
        assert any(_ESCAPED.sub(lambda m: m.group(0)[1], label).replace("\u2060", "") == LITERAL for label in labels)
