"""How an audited change made on a page went (an import, a boundary file, a rollback), said where the
user will read it.

A change run from a button's callback happens before the page is drawn; one followed by a rerun is
drawn over at once. Either way the message is kept for the next draw of the page (`show`), once.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from minsheng import changes
from minsheng.ui import session
from minsheng.ui.text import md

_KEPT = "_ms_outcome"


def attempt(change: Callable, done: str, failed: str, *, later: bool = False, action: str = "import") -> bool:
    """Run `change` (minsheng/changes.py) as the signed-in user and say how it went: now, or — `later`
    — at the page's next draw. `done` may name the new {version}, `failed` the {error}. The user is checked
    again first (session.recheck): a callback runs before the sign-in gate, so a session that ended a moment
    ago, or a user whose rights were taken away, must not make one more change."""
    u = session.recheck()
    if u is None or not u.can(action):
        _say("error", "未做任何更改：登录已结束或权限已变更，请重新登录。", later)
        return False
    actor, source = session.actor()
    try:
        version = change(actor=actor, source=source)
    except changes.StoreError as e:
        _say("error", failed.format(error=md(e)), later)
        return False
    _say("success", done.format(version=version), later)
    return True


def _say(kind: str, message: str, later: bool) -> None:
    if later:
        st.session_state[_KEPT] = (kind, message)
    else:
        getattr(st, kind)(message)


def show() -> None:
    """The message a change left for this draw, if any (then it is gone)."""
    kept = st.session_state.pop(_KEPT, None)
    if kept:
        getattr(st, kept[0])(kept[1])


def asked(key: str, *args) -> None:
    """For a button's callback: note the request `key` (with `args`) for this browser's sign-in, and do nothing
    else. Streamlit runs a callback before the script, so before the sign-in gate: a page left open by a user
    since signed out, disabled or demoted still has the last run's user there. The page carries the request
    out after the gate (`pending`)."""
    st.session_state[f"_asked_{key}"] = (args, session.cookie_digest())


def pending(key: str, action: str) -> tuple | None:
    """The arguments of the request `asked` noted, once, if this run's signed-in user (the same browser's
    sign-in) made it and may still `action`; else None, and the request is dropped."""
    args, digest = st.session_state.pop(f"_asked_{key}", (None, None))
    if args is None or digest != session.cookie_digest() or not session.can(action):
        return None
    return args
