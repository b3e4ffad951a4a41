"""Wire formats and sending: 企业微信 and 钉钉 group robots, a generic JSON webhook, SMTP mail.

Each robot gets its documented JSON (企业微信: {"msgtype": "markdown", "markdown": {"content"}} POSTed to
/cgi-bin/webhook/send?key=KEY; 钉钉: {"msgtype": "markdown", "markdown": {"title", "text"}} POSTed to
/robot/send?access_token=T, with timestamp and sign when the robot has 加签), success being errcode 0. Data
values go into markdown only through `escape_markdown`: neither robot documents an escape character, so
each character their markdown acts on is written as its full-width twin (＊ ［ ］ ＜ ＞ …), which reads the
same and is never markup; line breaks in a value become spaces, so a value cannot start a heading or list.

A send returns a `Result`: ok, or an error that is worth retrying (5xx, timeout, refused connection, an
errcode that may pass) or permanent (a 4xx other than 408/429 — a wrong key or URL — or a robot's
bad-key errcode, an SMTP authentication or recipient refusal), which fails the message at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from minsheng.notify_config import Channel

# errcodes that retrying cannot fix (企业微信 93000: invalid webhook url; 93004: robot disabled;
# 钉钉 300001/300005: token unknown; 310000: keyword, sign or IP whitelist not satisfied)
PERMANENT_ERRCODES = {"wecom": {93000, 93004}, "dingtalk": {300001, 300005, 310000}}
WECOM_LIMIT = 4096           # bytes of markdown.content the 企业微信 robot accepts
DOCX = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")

# what the robots' markdown acts on → a full-width look-alike; "&" too, so no HTML entity is formed
_ACTIVE = str.maketrans({"*": "＊", "_": "＿", "[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞",
                         "`": "｀", "#": "＃", "~": "～", "|": "｜", "!": "！", "\\": "＼", "&": "＆", "$": "＄"})


@dataclass(frozen=True)
class Result:
    """The outcome of one attempt; `error` in Chinese, never holding a key, secret or password."""
    ok: bool
    error: str | None = None
    permanent: bool = False


def one_line(value) -> str:
    """A value on one line: control characters and line or paragraph separators become spaces."""
    s = "" if value is None else str(value)
    return " ".join("".join(" " if (ord(ch) < 32 or ch in "\x7f\u2028\u2029\x85") else ch for ch in s).split())


def escape_markdown(value) -> str:
    """A data value as literal text inside robot markdown (企业微信 and 钉钉 alike)."""
    return one_line(value).translate(_ACTIVE).replace("://", "：//")


# --- payloads -----------------------------------------------------------------------------------

def wecom_body(content: str) -> dict:
    return {"msgtype": "markdown", "markdown": {"content": content}}


def dingtalk_body(title: str, text: str) -> dict:
    return {"msgtype": "markdown", "markdown": {"title": one_line(title), "text": text}}


def robot_url(ch: Channel) -> str:
    """The URL a robot message is POSTed to (before 钉钉's per-request sign)."""
    if ch.url:
        return ch.url
    base = (ch.base_url or "").rstrip("/")
    if ch.type == "wecom":
        return f"{base}/cgi-bin/webhook/send?key={urllib.parse.quote(ch.key or '', safe='')}"
    return f"{base}/robot/send?access_token={urllib.parse.quote(ch.key or '', safe='')}"


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉 加签: base64(HMAC-SHA256(secret, "timestamp\\nsecret")), URL-encoded as the documents show."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(ch: Channel, timestamp_ms: int | None = None) -> str:
    url = robot_url(ch)
    if ch.type != "dingtalk" or not ch.secret:
        return url
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms  # 钉钉 checks it against its clock
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={dingtalk_sign(ch.secret, ts)}"


# --- sending ------------------------------------------------------------------------------------

def send(ch: Channel, payload: dict, attachment: tuple[str, bytes] | None = None) -> Result:
    """One attempt to deliver `payload` (as built for the channel's type) through `ch`."""
    try:
        result = _mail(ch, payload, attachment) if ch.type == "smtp" else _post(ch, payload)
    except Exception as e:  # a channel never takes the run down with it; the row is retried
        result = Result(False, f"发送异常：{type(e).__name__}: {e}")
    return Result(result.ok, scrub(result.error, ch), result.permanent) if result.error else result


def scrub(text: str | None, ch: Channel) -> str | None:
    """`text` with the channel's URL, key, secret and password replaced by ***."""
    if text is None:
        return None
    for s in sorted(ch.secrets(), key=len, reverse=True):
        text = text.replace(s, "***")
        text = text.replace(urllib.parse.quote(s, safe=""), "***")
    return text[:500]


def _post(ch: Channel, payload: dict) -> Result:
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(signed_url(ch), data=data, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=ch.timeout) as resp:
            status, body = resp.status, resp.read(65536)
    except urllib.error.HTTPError as e:
        return _http_error(e.code)
    except (TimeoutError, socket.timeout):
        return Result(False, f"连接超时（{ch.timeout:g} 秒）")
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return Result(False, f"连接超时（{ch.timeout:g} 秒）")
        return Result(False, f"无法连接：{reason}")
    except OSError as e:  # reset by peer, half-read response
        return Result(False, f"连接中断：{e}")
    if not 200 <= status < 300:
        return _http_error(status)
    return Result(True) if ch.type == "webhook" else _errcode(ch, body)


def _http_error(code: int) -> Result:
    if 400 <= code < 500 and code not in (408, 429):
        return Result(False, f"HTTP {code}：地址或密钥有误，不再重试（修正配置后用 outbox retry 重发）", permanent=True)
    return Result(False, f"HTTP {code}")


def _errcode(ch: Channel, body: bytes) -> Result:
    try:
        answer = json.loads(body.decode("utf-8"))
        code, msg = int(answer.get("errcode", -1)), str(answer.get("errmsg", ""))[:200]
    except (ValueError, AttributeError, TypeError):
        return Result(False, "机器人的响应不是预期的 JSON")
    if code == 0:
        return Result(True)
    permanent = code in PERMANENT_ERRCODES.get(ch.type, set())
    return Result(False, f"errcode {code}：{msg}" + ("（不再重试）" if permanent else ""), permanent)


def mail_message(ch: Channel, payload: dict, attachment: tuple[str, bytes] | None) -> EmailMessage:
    """The mail: UTF-8 subject and plain-text body, the brief attached as .docx."""
    msg = EmailMessage()
    msg["Subject"] = one_line(payload["subject"])
    msg["From"] = ch.sender
    msg["To"] = payload["to"]
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=ch.sender.rsplit("@", 1)[-1])
    msg.set_content(payload["body"], charset="utf-8")
    if attachment:
        name, data = attachment
        kind = DOCX if name.lower().endswith(".docx") else ("application", "octet-stream")
        msg.add_attachment(data, maintype=kind[0], subtype=kind[1], filename=name)
    return msg


def _mail(ch: Channel, payload: dict, attachment: tuple[str, bytes] | None) -> Result:
    password = ch.password()
    if ch.username and not password:
        return Result(False, f"环境变量 {ch.password_env} 未设置，无法登录邮件服务器", permanent=True)
    msg = mail_message(ch, payload, attachment)
    try:
        with _smtp(ch) as s:
            if ch.starttls:
                s.starttls(context=ssl.create_default_context())
            if ch.username:
                _login(s, ch.username, password)
            s.send_message(msg)
    except smtplib.SMTPAuthenticationError as e:
        return Result(False, f"邮件服务器拒绝登录（{e.smtp_code}）", permanent=True)
    except smtplib.SMTPRecipientsRefused:
        return Result(False, f"邮件服务器拒收收件人 {payload['to']}", permanent=True)
    except smtplib.SMTPResponseException as e:
        return Result(False, f"邮件服务器返回 {e.smtp_code}", permanent=500 <= e.smtp_code < 600)
    except (smtplib.SMTPException, OSError) as e:
        return Result(False, f"邮件发送失败：{type(e).__name__}: {e}")
    return Result(True)


def _login(s: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib's login, or AUTH PLAIN in UTF-8 (RFC 4616) for a non-ASCII name or password, which smtplib cannot encode."""
    if (user + password).isascii():
        s.login(user, password)
        return
    s.ehlo_or_helo_if_needed()
    token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")).decode("ascii")
    code, resp = s.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, resp)


def _smtp(ch: Channel) -> smtplib.SMTP:
    if ch.ssl:
        return smtplib.SMTP_SSL(ch.host, ch.port, timeout=ch.timeout, context=ssl.create_default_context())
    return smtplib.SMTP(ch.host, ch.port, timeout=ch.timeout)
