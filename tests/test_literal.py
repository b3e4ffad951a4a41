"""The escapers of minsheng/literal.py against what each renderer does with text, written out here
from the renderers themselves: CommonMark's backslash escapes, the rewrites Streamlit 1.67's
markdown makes before and after parsing (its frontend bundle, StreamlitMarkdown), GFM's bare-link
finder, Python's HTML parser, and Plotly's tag splitter and entity table. The browser half of the
round trip — the page shows exactly the text — is tests/test_browser_hostile.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from minsheng import charts, literal, maps

OUTSIDE = "198.51.100.7"
PAYLOADS = [
    f"![x](http://{OUTSIDE}/x.png) **粗** :red[红] $x^2$ <b>b</b> [点我](http://{OUTSIDE}/)",
    '<iframe srcdoc="<script>parent.alert(1)</script>">', "<img src=x onerror=alert(1)>", "<script>alert(1)</script>",
    f"![x](http://{OUTSIDE}/x.png)", f"[点我](http://{OUTSIDE}/)", f'<a href="http://{OUTSIDE}">a</a>', ":red[x]",
    "$\\alert$", f'=HYPERLINK("http://{OUTSIDE}","x")', f"http://{OUTSIDE}/a", "www.example.com", "WWW.EXAMPLE.COM",
    "a@b.example.cn", "mailto:a@b.cn", f"<http://{OUTSIDE}>", ":smile: :+1: :-1: :streamlit: :heart_eyes:",
    ":material/home: :material_home:", ':orange-badge[x] :small[s] :color[c]{foreground="red"} :shimmer[z] x:help[y]',
    "a -> b <- c <-> d -- e >= f <= g ~= h", "$$x$$ $y$ \\$z\\$", "# h", "## h", "- item", "+ item", "* item",
    "1. one", "12) two", "> quote", "| a | b |", "`code`", "```", "~~del~~", "*i* _u_ __b__ ***", "---", "___",
    "&amp; &lt; &#60; &copy;", "back\\slash\\", "line1\nline2\r\n\tend", "[^1]", "[a]: http://x.example",
    "<!-- c -->", "A (b) [c] {d}", "\"q\" 's' ; ? / % ^ , . = @", "x<y>z", "民政局（低保）·2023年", "", "100.0%",
    "-12 人", "192,847 人", "  leading", "trailing\\", "\\*", "\\\\*", "🙂 ＊全角＊", "1.", "-",
]

# CommonMark: a backslash before any ASCII punctuation stands for that character
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# what Streamlit 1.67 rewrites in text nodes after parsing (StreamlitMarkdown: emoji, logo, icons,
# typographic symbols) and what GFM turns into links there (mdast-util-gfm-autolink-literal)
_AFTER_PARSING = [
    re.compile(r":[\w+-][\w_+-]*:", re.A),                 # remark-emoji
    re.compile(r":streamlit:"), re.compile(r":material_\w+:", re.A),
    re.compile(r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)"),
    re.compile(r"(https?://|www(?=\.))", re.I),
    re.compile(r"[-.\w+]+@[-\w]+(\.[-\w]+)+", re.A),
]


def shown(source: str) -> str:
    """The text a markdown source of only escapes and plain characters shows, joiners left in."""
    return _UNESCAPE.sub(r"\1", source)


def constructs(source: str) -> list[str]:
    """Characters of `source` outside a backslash escape that start markup where they stand."""
    bare = _UNESCAPE.sub("", source)
    found = re.findall(r"[\\`*_{}\[\]()#!|~<>$:&]", bare)
    if re.match(r"\s*([-+](\s|$)|\d{1,9}[.)](\s|$))", bare):
        found.append("list marker")
    return found


@pytest.mark.parametrize("value", PAYLOADS)
def test_markdown_shows_the_value_and_starts_nothing(value):
    out = literal.markdown(value)
    assert shown(out).replace(literal.WORD_JOINER, "") == re.sub(r"[\r\n\t]+", " ", value)
    assert constructs(out) == []
    text = shown(out)
    assert [p.pattern for p in _AFTER_PARSING if p.search(text)] == []
    # before parsing Streamlit rewrites ":material/" in the source, and loads math and emoji by regex
    assert ":material/" not in out
    no_escapes = re.sub(r"\\[\\$`]", "_", out)
    assert not re.search(r"(?<!\$)\$(?![\s$])[^$\n]*?[^\s$]\$(?!\d)", no_escapes)
    assert not re.search(r"(?<!\$)\$\$+(?!\$)[\s\S]*?\$\$", no_escapes)
    assert not re.search(r":(?!material/|streamlit:)[\w+-][\w_+-]*:", out, re.A)


def test_markdown_leaves_plain_text_and_numbers_alone():
    for plain in ("城乡居民医保参保人数", "192,847 人", "100.0%", "-12 人", "+3.5%", "625 元/月", "2023-01 至 2023-12"):
        assert literal.markdown(plain) == plain
    assert literal.markdown(None) == "" and literal.markdown(12.5) == "12.5"


class _Parsed(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], ""

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        self.tags.append("/" + tag)

    def handle_data(self, data):
        self.text += data

    def handle_comment(self, data):
        self.tags.append("!--")


@pytest.mark.parametrize("value", PAYLOADS)
def test_html_is_text_and_a_safe_attribute_value(value):
    p = _Parsed()
    p.feed(f"<div title='{literal.html(value)}'>{literal.html(value)}</div>")
    p.close()
    assert p.tags == ["div", "/div"] and p.text == value


# Plotly 3.8 (Streamlit's bundle, svg_text_utils): the text is split at tags, then its pieces have
# these entities decoded
_PLOTLY_TAG = re.compile(r"(<[^<>]*>)")
_PLOTLY_ENTITIES = {"mu": "μ", "amp": "&", "lt": "<", "gt": ">", "nbsp": "\xa0", "times": "×", "plusmn": "±",
                    "deg": "°"}


def plotly_shows(text: str) -> tuple[list[str], str]:
    pieces = _PLOTLY_TAG.split(text)
    tags = [p for p in pieces if _PLOTLY_TAG.fullmatch(p)]

    def entity(m):
        name = m.group(1)
        if name.startswith("#"):
            return chr(int(name[2:], 16) if name[1] == "x" else int(name[1:]))
        return _PLOTLY_ENTITIES.get(name, m.group(0))

    shown_text = "".join(re.sub(r"&(#\d+|#x[\da-fA-F]+|[a-z]+);", entity, p) for p in pieces if p not in tags)
    return tags, shown_text


@pytest.mark.parametrize("value", PAYLOADS)
def test_plotly_text_has_no_tags_and_decodes_to_the_value(value):
    assert plotly_shows(literal.plotly(value)) == ([], value)


def test_charts_escape_names_and_keep_them_out_of_hover_templates():
    """Region names are trace names (legend, hover) and the title is the indicator's name: each is
    Plotly text with no tag in it, and a name is never part of a hovertemplate, where %{…} is a field."""
    hostile = {"a": '<a href="http://198.51.100.7">甲</a>', "b": "%{y} <b>乙</b>"}
    df = pd.DataFrame({"period": pd.to_datetime(["2023-01-01", "2023-01-01"]), "region_code": ["a", "b"],
                       "value": [1.0, 2.0]})
    ind = {"name_zh": "<img src=x> $x$", "unit": "<i>人</i>", "kind": "count", "frequency": "month"}
    fig = charts.trend(df, ind, hostile, "a", "value", "<b>副</b>标题", lang="zh")
    for trace in fig.data:
        assert plotly_shows(trace.name)[0] == [] and plotly_shows(trace.name)[1] in hostile.values()
        # the value's own field (in the indicator's precision) is the only %{y…} of the template
        assert "%{y" not in re.sub(r"%\{y:,\.\d+f\}", "", trace.hovertemplate, count=1)
        assert "甲" not in trace.hovertemplate
        assert all(plotly_shows(m)[0] == [] for m in trace.meta)
    title = fig.layout.title.text
    assert "&lt;img src=x&gt; $x$" in title and "&lt;b&gt;副&lt;/b&gt;标题" in title
    assert "单位：&lt;i&gt;人&lt;/i&gt;" in [a.text for a in fig.layout.annotations]
    goals = charts.goals(pd.DataFrame({"task": ["<a href='x'>任务</a>"], "department": ["<b>局</b>"], "indicator_id": ["<i>t</i>"],
                                       "completion": [0.5], "elapsed": [0.4], "status": ["滞后"]}), "副标题")
    labels = [y for t in goals.data if t.y is not None for y in t.y if isinstance(y, str)]
    assert labels and all(plotly_shows(y) == ([], "<a href='x'>任务</a>（<b>局</b>）") for y in labels)


def test_the_map_tooltip_template_holds_no_data():
    """Streamlit HTML-escapes each value it fills into a pydeck tooltip, so the template must be
    placeholders only and the values raw (escaping them here would show &lt; on the map)."""
    rows = [dict(code="a", name="<b>甲</b>", value=1.0, label="1 <i>人</i>", lon=113.0, lat=27.0)]
    deck = maps.choropleth(None, rows)
    assert deck._tooltip["html"] == "<b>{name}</b><br/>{label}"
    assert deck.layers[0].data[0]["name"] == "<b>甲</b>"


def test_direction_overrides_do_not_reach_the_page():
    """A name stored before the import's text rule, "x\u202egpj.csv", would show as "xvsc.jpg"."""
    assert literal.markdown("x\u202egpj.csv") == "x" + literal.markdown("gpj.csv")
    assert not set(literal.markdown("a\u2066b\u2069\u202dc")) & {"\u2066", "\u2069", "\u202d"}
