"""Filters whose values live in the URL, so a copied link reproduces the view.

Each filter keeps its value under a session key of its own (`_v_<key>`), not only in the widget:
Streamlit forgets a widget's value on a page that does not draw it, and the region chosen on
one page must still be chosen on the next. The value is read from the URL once per session,
checked against what is allowed (anything else falls back to the default), and written back
to the URL on every run. A URL that names a value other than the one this session last wrote
there comes from a link followed inside the app (a KPI card's 看趋势, a task's permalink): that
value wins over the session's, so the link opens what it names.
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


def _written_key(key: str) -> str:
    return f"_u_{key}"


def _raw(key: str, multi: bool):
    """What the URL holds for `key` now, as text (None when it names nothing)."""
    if multi:
        return tuple(st.query_params.get_all(key)) or None
    raw = st.query_params.get(key)
    return None if raw in (None, "") else raw


def _followed_link(key: str, multi: bool) -> bool:
    """Whether the URL names a value for `key` that this session did not write: a link was followed."""
    raw = _raw(key, multi)
    return raw is not None and _written_key(key) in st.session_state and raw != st.session_state[_written_key(key)]


def reads_url(key: str, multi: bool = False) -> bool:
    """Whether this run takes filter `key` from the URL: the session's first run, or a URL value the
    session did not write (a link followed, Browser Back or forward). The frame's checks of a URL
    (a short code normalised, a bad year said so) apply exactly then."""
    return value_key(key) not in st.session_state or _followed_link(key, multi)


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
        st.session_state[_written_key(key)] = None
        return
    st.query_params[key] = [str(v) for v in value] if multi else str(value)
    st.session_state[_written_key(key)] = _raw(key, multi)


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
    st.session_state[_written_key(key)] = _raw(key, False)
    return result
