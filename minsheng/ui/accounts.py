"""用户管理's pieces without widgets (views/users.py draws them): which users and audit lines an admin's area
covers, and the tables the page shows of them, worded for a reader (no internal names)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pandas as pd

from minsheng import auth, sessions
from minsheng.regions import Tree
from minsheng.ui.text import T

LOG_ROWS = 500  # audit lines drawn at most (the newest); the caption says how many matched
LOG_READ = 50_000  # the newest lines of the audit log the page reads (its tail only: audit.read); older ones by file
ACTION_ZH = {"sign-in": "登录", "sign-in-failed": "登录失败", "sign-out": "登录结束", "init": "初始化数据目录",
             "import": "导入", "rollback": "回退", "compact": "合并增量", "export": "导出", "users-change": "用户变更",
             "draft": "保存草稿", "submit": "上报", "approve": "审核通过", "return": "退回",
             "reopen": "导入修改已通过的报表（重新审核）", "note": "填写任务进展", "brief": "生成专报",
             "alert": "预警", "send": "推送消息",
             "intent": "操作意图（先于操作记录）"}
OPS = {"add": "添加用户", "remove": "删除用户", "password": "设置密码", "reset-single-user": "恢复单用户模式"}
REASONS = {"signed-out": "本人退出", "revoked": "被管理员结束", "expired": "已过期", "password": "密码错误",
           "unknown": "用户名不存在", "locked": "账户锁定中", "locked-now": "失败过多，账户已锁定", "disabled": "账户已停用",
           "not-recorded": "超出逐条记录上限（合计）", "rate-limited": "同一地址尝试过多"}
METHODS = {"password": "密码", "oidc": "统一身份认证"}
# detail keys the 详情 column says, in this order, with their labels; the rest (an export's indicator ids,
# table lists) stay in the file
DETAIL = {"op": "操作", "role": "角色", "area": "区域", "region": "区域", "disabled": "停用", "must_change": "需改密码",
          "email": "邮箱", "method": "方式", "reason": "原因", "ended": "结束登录数", "sessions_ended": "结束登录数",
          "session": "登录编号", "by": "操作者", "page": "页面", "format": "格式", "rows": "行数", "file": "文件",
          "to": "回退到", "from": "回退前", "version": "版本", "count": "次数", "error": "错误"}


def in_scope(users: list[auth.User], tree: Tree) -> list[auth.User]:
    """The users whose area lies within the admin's (the tree is the admin's subtree): an area limits
    reads and writes alike, so these are the only ones the page lists or changes."""
    return [u for u in users if u.area in tree]


def area_label(code: str | None, tree: Tree) -> str:
    """名称（代码）, or the bare code of a region outside the tree."""
    return f"{tree.label(code)}（{code}）" if code in tree else str(code or "")


def status(u: auth.User, now: float) -> str:
    if u.disabled:
        return T("已停用")
    return T("已锁定") if auth.locked_for({"locked_until": u.locked_until}, now) else T("正常")


def _local(iso: str | None, seconds: bool = False) -> str:
    try:
        t = dt.datetime.fromisoformat(iso).astimezone()
    except (TypeError, ValueError):
        return ""
    return t.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def users_table(people: list[auth.User], tree: Tree, signed_in: Counter) -> pd.DataFrame:
    now = auth.clock()
    rows = [{T("用户名"): u.name, T("角色"): T(auth.ROLE_ZH[u.role]), T("区域"): area_label(u.area, tree),
             T("状态"): status(u, now), T("需改密码"): T("是") if u.must_change else T("否"),
             T("登录数"): signed_in.get(u.name, 0), T("邮箱"): u.email or "", T("创建时间"): _local(u.created)}
            for u in people]
    return pd.DataFrame(rows, columns=[T(c) for c in ("用户名", "角色", "区域", "状态", "需改密码", "登录数", "邮箱",
                                                      "创建时间")])


def sessions_table(live: list[sessions.Session]) -> pd.DataFrame:
    rows = [{T("登录编号"): s.short, T("登录时间"): sessions.when(s.created), T("最近活动"): sessions.when(s.seen),
             T("到期"): sessions.when(s.ends()), T("来源"): s.source,
             T("方式"): T("设置密码") if s.purpose == sessions.CHANGE_PASSWORD else T(METHODS.get(s.method, s.method))}
            for s in live]
    return pd.DataFrame(rows, columns=[T(c) for c in ("登录编号", "登录时间", "最近活动", "到期", "来源", "方式")])


# --- the audit log -------------------------------------------------------------------------------

def target(line: dict) -> str | None:
    """The user a line is about when that is not who did it (a users change names them in detail)."""
    d = line.get("detail")
    name = d.get("name") if isinstance(d, dict) else None
    return name if isinstance(name, str) else None


def visible(lines: list[dict], names: set[str], everything: bool) -> list[dict]:
    """The lines done by or about one of `names` (the admin and the users in scope); `everything` (an admin
    of a top region) also keeps those of names no longer, or never, in the users file."""
    return [e for e in lines if isinstance(e, dict) and (everything or e.get("user") in names or target(e) in names)]


def pick(lines: list[dict], user: str | None, action: str | None) -> list[dict]:
    """The lines of `user` (done by or about them) and `action`, newest first. Without an action, an intent
    line shows only where its outcome is missing (the outcome repeats what it says, and adds the result)."""
    if action is None:
        done = answered(lines)
        lines = [e for e in lines if e.get("action") != "intent" or e.get("id") not in done]
    else:
        lines = [e for e in lines if e.get("action") == action]
    if user is not None:
        lines = [e for e in lines if e.get("user") == user or target(e) == user]
    return lines[::-1]


def _value(key: str, v, tree: Tree) -> str:
    if isinstance(v, bool):
        return T("是") if v else T("否")
    if key == "role" and v in auth.Role.__members__:
        return T(auth.ROLE_ZH[auth.Role[v]])
    if key in ("area", "region"):
        return area_label(str(v), tree)
    words = {"op": OPS, "reason": REASONS, "method": METHODS}.get(key, {})
    if isinstance(v, str) and v in words:
        return T(words[v])
    if key == "page" and isinstance(v, str):
        return T(v)
    if isinstance(v, dict):
        return "，".join(f"{T(str(k))} {x}" for k, x in v.items())
    return str(v)[:200]


def summary(line: dict, tree: Tree) -> str:
    d = line.get("detail") if isinstance(line.get("detail"), dict) else {}
    inner = d.get("action") if line.get("action") == "intent" else None  # an intent names the change it precedes
    bits = [T(ACTION_ZH.get(inner, inner))] if isinstance(inner, str) else []
    bits += [f"{T(label)}：{_value(k, d[k], tree)}" for k, label in DETAIL.items()
             if k in d and d[k] is not None and not isinstance(d[k], list)]
    return "；".join(dict.fromkeys(bits))


def answered(lines: list[dict]) -> set[str]:
    """The ids of the intent lines whose outcome is in `lines`."""
    return {e["intent"] for e in lines if isinstance(e.get("intent"), str)}


def result(line: dict, done: set[str]) -> str:
    ok = line["detail"].get("ok") if isinstance(line.get("detail"), dict) else None
    if line.get("action") == "intent":
        return T("见其结果记录") if line.get("id") in done else T("未记录结果")
    return "" if ok is None else T("成功") if ok else T("失败")


def log_table(lines: list[dict], tree: Tree, done: set[str]) -> pd.DataFrame:
    rows = [{T("时间"): _local(e.get("time"), seconds=True), T("用户"): str(e.get("user") or ""),
             T("事件"): T(ACTION_ZH.get(e.get("action"), str(e.get("action")))), T("对象"): target(e) or "",
             T("详情"): summary(e, tree), T("结果"): result(e, done), T("来源"): str(e.get("source") or "")}
            for e in lines[:LOG_ROWS]]
    return pd.DataFrame(rows, columns=[T(c) for c in ("时间", "用户", "事件", "对象", "详情", "结果", "来源")])
