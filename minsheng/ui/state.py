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
_RUN_URL = "_url_this_run"  # key -> values: the URL this run leaves, sent once when it ends (`flush`)


def begin() -> None:
    """Start this run's URL from the browser's. Filters write into it and `flush` sends it once: Streamlit
    pushes a browser history entry for every change it is sent, so a page that fills in six parameters
    one by one made Back take six presses to leave it (and seven to leave the app from a pasted link)."""
    st.session_state[_RUN_URL] = {k: st.query_params.get_all(k) for k in st.query_params}


def flush() -> None:
    """Send the URL this run leaves, in one change (none when it is the browser's already)."""
    run = st.session_state.pop(_RUN_URL, None)
    if run is not None and run != {k: st.query_params.get_all(k) for k in st.query_params}:
        st.query_params.from_dict(run)


def url_get(key: str) -> str | None:
    """`?key=` as this run leaves it so far (the browser's before the router began the run, or in a callback)."""
    values = url_get_all(key)
    return values[-1] if values else None


def url_get_all(key: str) -> list[str]:
    run = st.session_state.get(_RUN_URL)
    return list(run.get(key, [])) if run is not None else st.query_params.get_all(key)


def url_dict() -> dict[str, str]:
    """Every parameter as this run leaves it so far, the last value of a repeated one."""
    run = st.session_state.get(_RUN_URL)
    return {k: v[-1] for k, v in run.items() if v} if run is not None else st.query_params.to_dict()


def url_set(key: str, value: str | Sequence[str] | None) -> None:
    """Set (None or empty: drop) `?key=` in the URL this run leaves; in a callback, or without the router,
    in the browser's at once."""
    values = [] if value is None else [value] if isinstance(value, str) else [str(v) for v in value]
    run = st.session_state.get(_RUN_URL)
    if run is not None:
        if values:
            run[key] = values
        else:
            run.pop(key, None)
    elif values:
        st.query_params[key] = values if len(values) > 1 or not isinstance(value, str) else values[0]
    elif key in st.query_params:
        del st.query_params[key]


def _url_raw(key: str, multi: bool):
    """What the browser's URL holds for `key` (as a tuple for a multi-valued filter)."""
    return tuple(st.query_params.get_all(key)) if multi else st.query_params.get(key)


def _moved(key: str, multi: bool) -> bool:
    """Whether the URL holds a value for `key` that this session did not write (Back, Forward)."""
    written = st.session_state.get(_WRITTEN, {})
    raw = _url_raw(key, multi)
    return key in written and raw not in (None, "", ()) and raw != written[key]


def _remember(key: str, multi: bool) -> None:
    values = url_get_all(key)
    st.session_state.setdefault(_WRITTEN, {})[key] = tuple(values) if multi else (values[-1] if values else None)


def reads_url(key: str, multi: bool = False) -> bool:
    """Whether this run takes filter `key` from the URL: the session's first run, or a URL value the
    session did not write (a link followed, Browser Back or forward). The frame's checks of a URL
    (a short code normalised, a bad year said so) apply exactly then."""
    return value_key(key) not in st.session_state or _moved(key, multi)


def _from_url(key: str, multi: bool, parse: Callable[[str], Any]) -> Any:
    try:
        if multi:
            raw = url_get_all(key)
            return [parse(x) for x in raw] if raw else None
        raw = url_get(key)
        return parse(raw) if raw not in (None, "") else None
    except (ValueError, TypeError):
        return None


def _to_url(key: str, value: Any, multi: bool) -> None:
    if value is None or (multi and not value):
        url_set(key, None)
    else:
        url_set(key, [str(v) for v in value] if multi else str(value))
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
            raw = url_get(key)
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
    url_set(key, serialize(result))
    _remember(key, False)
    return result
