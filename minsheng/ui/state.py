"""Filters whose values live in the URL, so a copied link reproduces the view.

Each filter keeps its value under a session key of its own (`_v_<key>`), not only in the widget:
Streamlit forgets a widget's value on a page that does not draw it, and the region chosen on
one page must still be chosen on the next. The value is read from the URL once per session,
checked against what is allowed (anything else falls back to the default), and written back
to the URL on every run.

Each change written to the URL is a browser history entry (Streamlit pushes one when a run
changes the query string). When a run finds a filter's URL value other than the one this session
last wrote there, the browser moved (Back, Forward): the filter takes the URL's value again, so
Back undoes a drill-down instead of the session writing the drilled region straight back.
A link followed inside the app (a KPI card's 看趋势, a task's permalink) is the same case: the URL
names a value this session did not write, and the link opens what it names.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import streamlit as st


def value_key(key: str) -> str:
    """The session key that holds filter `key`'s value (`_v_<key>`); set it to change the filter."""
    return f"_v_{key}"


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(value_key(key), default)


def set_value(key: str, value: Any) -> None:
    """Change a filter from code (a map click drilling down, say) before its widget is drawn."""
    st.session_state[value_key(key)] = value


_WRITTEN = "_url_written"  # filter key -> what this session last wrote to ?key= (a str, or a tuple)


def _url_raw(key: str, multi: bool):
    return tuple(st.query_params.get_all(key)) if multi else st.query_params.get(key)


def _moved(key: str, multi: bool) -> bool:
    """Whether the URL holds a value for `key` that this session did not write (Back, Forward)."""
    written = st.session_state.get(_WRITTEN, {})
    raw = _url_raw(key, multi)
    return key in written and raw not in (None, "", ()) and raw != written[key]


def _remember(key: str, multi: bool) -> None:
    st.session_state.setdefault(_WRITTEN, {})[key] = _url_raw(key, multi)


def reads_url(key: str, multi: bool = False) -> bool:
    """Whether this run takes filter `key` from the URL: the session's first run, or a URL value the
    session did not write (a link followed, Browser Back or forward). The frame's checks of a URL
    (a short code normalised, a bad year said so) apply exactly then."""
    return value_key(key) not in st.session_state or _moved(key, multi)


def _from_url(key: str, multi: bool, parse: Callable[[str], Any]) -> Any:
    try:
        if multi:
            raw = st.query_params.get_all(key)
            return [parse(x) for x in raw] if raw else None
        raw = st.query_params.get(key)
        return parse(raw) if raw not in (None, "") else None
    except (ValueError, TypeError):
        return None


def _to_url(key: str, value: Any, multi: bool) -> None:
    if value is None or (multi and not value):
        if key in st.query_params:
            del st.query_params[key]
    else:
        st.query_params[key] = [str(v) for v in value] if multi else str(value)
    _remember(key, multi)


def choice(widget: Callable, label: str, options: Sequence, *, key: str, default: Any = None,
           parse: Callable[[str], Any] = str, multi: bool = False, **kwargs) -> Any:
    """A selectbox / radio / pills / multiselect / segmented control bound to `?key=`."""
    options = list(options)
    canon = value_key(key)
    if reads_url(key, multi):
        url = _from_url(key, multi, parse)
        st.session_state[canon] = url if url is not None else st.session_state.get(canon, default)
    value = st.session_state[canon]
    if multi:
        value = [v for v in (value or []) if v in options]
        if not value and default:
            value = [v for v in default if v in options]
    elif value not in options:
        value = default if default in options else (options[0] if options else None)
    st.session_state[canon] = value
    wkey = f"_w_{key}"
    st.session_state[wkey] = value

    def changed():
        st.session_state[canon] = st.session_state[wkey]

    if getattr(widget, "__name__", "") == "multiselect":  # "Select all" / "Select 2 matches" are English only
        kwargs.setdefault("select_all", False)
    result = widget(label, options, key=wkey, on_change=changed, **kwargs)
    st.session_state[canon] = result
    _to_url(key, result, multi)
    return result


def value(widget: Callable, label: str, *, key: str, default: Any, parse: Callable[[str], Any],
          valid: Callable[[Any], bool], serialize: Callable[[Any], str] = str, **kwargs) -> Any:
    """A slider / number input / toggle bound to `?key=`, checked with `valid`."""
    canon = value_key(key)
    if reads_url(key):
        try:
            raw = st.query_params.get(key)
            url = parse(raw) if raw not in (None, "") else None
        except (ValueError, TypeError):
            url = None
        st.session_state[canon] = url if url is not None and valid(url) else st.session_state.get(canon, default)
    if not valid(st.session_state[canon]):
        st.session_state[canon] = default
    wkey = f"_w_{key}"
    st.session_state[wkey] = st.session_state[canon]

    def changed():
        st.session_state[canon] = st.session_state[wkey]

    result = widget(label, key=wkey, on_change=changed, **kwargs)
    st.session_state[canon] = result
    st.query_params[key] = serialize(result)
    _remember(key, False)
    return result
