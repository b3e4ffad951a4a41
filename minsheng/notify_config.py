"""The delivery settings of one deployment (<data>/settings/delivery.toml): channels, contacts, escalation, briefs.

Read with tomllib and checked strictly: an unknown key, a wrong type or a missing field is refused with a
Chinese message naming the file and the key, so a typo never silently stops 预警 from being sent. Secrets
(the SMTP password, optionally a robot's key or 加签 secret) are read from environment variables the file
names, never from the file itself. The commented default is minsheng/defaults/delivery.toml.
"""

from __future__ import annotations

import os
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from minsheng import auth

TYPES = ("wecom", "dingtalk", "webhook", "smtp")
ROBOTS = ("wecom", "dingtalk", "webhook")   # HTTP channels, each rate-limited per webhook
KINDS = ("alert", "brief")
DUTIES = ("责任人", "部门负责人", "分管领导")
BASE_URLS = {"wecom": "https://qyapi.weixin.qq.com", "dingtalk": "https://oapi.dingtalk.com"}
PER_MINUTE = 20          # both robots accept 20 messages a minute each
DEFAULT = Path(__file__).resolve().parent / "defaults" / "delivery.toml"


class ConfigError(Exception):
    """The settings file cannot be used; the message (Chinese) names the file and the key."""


@dataclass(frozen=True)
class Channel:
    """One place messages go: a group robot, a JSON webhook or a mail server."""
    id: str
    type: str
    areas: tuple[str, ...]
    kinds: tuple[str, ...] = KINDS
    departments: tuple[str, ...] = ()
    url: str | None = None           # robots and webhook: the full URL, or base_url + key
    base_url: str | None = None
    key: str | None = None
    secret: str | None = None        # 钉钉 加签
    timeout: float = 10.0
    per_minute: int = PER_MINUTE
    host: str | None = None          # smtp
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None
    sender: str | None = None        # the From address ("from" in the file)

    @property
    def robot(self) -> bool:
        return self.type in ROBOTS

    def password(self) -> str | None:
        """The SMTP password, read from the environment when it is needed (never kept in the file)."""
        return os.environ.get(self.password_env) if self.password_env else None

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line or an error kept in the outbox: with a full `url`, also
        its path and query and each query value (http.client names only the path and query of a URL it refuses)."""
        parts = []
        if self.url:
            u = urllib.parse.urlsplit(self.url)
            parts = [u.path + ("?" + u.query if u.query else ""), u.query,
                     *(v for _, v in urllib.parse.parse_qsl(u.query, keep_blank_values=True))]
        parts = [p for p in parts if len(p) >= 8]  # not "v=1": a short part would blot out "HTTP 401"
        return [s for s in (self.key, self.secret, self.password(), self.url, *parts) if s]


@dataclass(frozen=True)
class Contact:
    """A person told of alerts by duty: 责任人, then 部门负责人, then 分管领导."""
    name: str
    duty: str
    area: str
    department: str | None = None
    account: str | None = None       # a users-file account: their 消息中心
    email: str | None = None


@dataclass(frozen=True)
class BriefJob:
    """A 专报 sent each month, on `day_of_month`, for the month before."""
    region: str
    day_of_month: int
    channels: tuple[str, ...]
    recipients: tuple[str, ...] = ()  # contact names; empty: the contacts whose area holds the region


@dataclass(frozen=True)
class Config:
    """The whole delivery setup; an empty one (no file) still fills the 消息中心."""
    path: Path | None = None
    after_days: int = 3
    channels: tuple[Channel, ...] = ()
    contacts: tuple[Contact, ...] = ()
    briefs: tuple[BriefJob, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def channel(self, cid: str) -> Channel | None:
        return next((c for c in self.channels if c.id == cid), None)


def path_of(directory: Path) -> Path:
    return Path(directory) / "settings" / "delivery.toml"


def load(directory: Path) -> Config:
    """The deployment's settings; no file: no channels (the 消息中心 only). ConfigError on anything wrong."""
    path = path_of(directory)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(notes=(f"未找到推送配置 {path}，只写入消息中心（示例见 minsheng/defaults/delivery.toml）",))
    except OSError as e:
        raise ConfigError(f"推送配置 {path} 无法读取（{e.strerror or e}）") from None
    return parse(raw, path)


def parse(raw: bytes, path: Path) -> Config:
    """Check and read the file's bytes (separate from `load` so a page can check a file before saving it)."""
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"推送配置 {path} 不是 UTF-8 编码的文本") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"推送配置 {path} 不是有效的 TOML：{e}") from None
    r = _Reader(path)
    r.keys(doc, "", {"escalation", "channel", "contact", "brief"})
    esc = r.table(doc, "escalation")
    r.keys(esc, "[escalation]", {"after_days"})
    after = r.integer(esc, "[escalation]", "after_days", 3, low=1, high=365)
    channels = tuple(_channel(r, c, f"[[channel]] 第{i}项") for i, c in enumerate(r.tables(doc, "channel"), 1))
    _unique(r, [c.id for c in channels], "[[channel]]", "id")
    contacts = tuple(_contact(r, c, f"[[contact]] 第{i}项") for i, c in enumerate(r.tables(doc, "contact"), 1))
    briefs = tuple(_brief(r, b, f"[[brief]] 第{i}项", channels, contacts) for i, b in enumerate(r.tables(doc, "brief"), 1))
    return Config(path=path, after_days=after, channels=channels, contacts=contacts, briefs=briefs)


_CHANNEL_KEYS = {
    "wecom": {"url", "base_url", "key", "key_env", "timeout", "per_minute"},
    "dingtalk": {"url", "base_url", "key", "key_env", "secret", "secret_env", "timeout", "per_minute"},
    "webhook": {"url", "timeout", "per_minute"},
    "smtp": {"host", "port", "starttls", "ssl", "username", "password_env", "from", "timeout"},
}


def _channel(r: _Reader, t: dict, where: str) -> Channel:
    cid = r.text(t, where, "id", required=True)
    where = f"[[channel]] id=“{cid}”"
    kind = r.choice(t, where, "type", TYPES)
    r.keys(t, where, {"id", "type", "areas", "departments", "kinds"} | _CHANNEL_KEYS[kind])
    common = dict(id=cid, type=kind, areas=r.areas(t, where), departments=r.texts(t, where, "departments"),
                  kinds=r.texts(t, where, "kinds", KINDS, choices=KINDS) or KINDS,
                  timeout=r.number(t, where, "timeout", 10.0, low=0.05, high=300))
    if kind == "smtp":
        return _smtp(r, t, where, common)
    common["per_minute"] = r.integer(t, where, "per_minute", PER_MINUTE, low=1, high=PER_MINUTE)
    url = r.url(t, where, "url")
    if kind == "webhook":
        if url is None:
            raise r.error(where, "url", "缺少 url（接收推送的完整地址）")
        return Channel(url=url, **common)
    key = r.secret_value(t, where, "key")
    if (url is None) == (key is None):
        raise r.error(where, "url", "须给出 url（机器人的完整地址，含 key/access_token）或 key（与 base_url 拼成地址），二者只取其一")
    base = r.url(t, where, "base_url") or BASE_URLS[kind]
    secret = r.secret_value(t, where, "secret") if kind == "dingtalk" else None
    return Channel(url=url, base_url=base, key=key, secret=secret, **common)


def _smtp(r: _Reader, t: dict, where: str, common: dict) -> Channel:
    host = r.text(t, where, "host", required=True)
    starttls, use_ssl = r.boolean(t, where, "starttls", False), r.boolean(t, where, "ssl", False)
    if starttls and use_ssl:
        raise r.error(where, "ssl", "ssl 与 starttls 只能启用其一（ssl：465 端口直接加密；starttls：先明文再升级）")
    port = r.integer(t, where, "port", 465 if use_ssl else (587 if starttls else 25), low=1, high=65535)
    username = r.text(t, where, "username")
    password_env = r.text(t, where, "password_env")
    if username and not password_env:
        raise r.error(where, "password_env", "给出了 username 但没有 password_env（存放密码的环境变量名；密码不写在配置文件里）")
    sender = r.text(t, where, "from", required=True)
    if "@" not in sender:
        raise r.error(where, "from", f"发件地址“{sender}”不是邮箱地址")
    return Channel(host=host, port=port, starttls=starttls, ssl=use_ssl, username=username,
                   password_env=password_env, sender=sender, **common)


def _contact(r: _Reader, t: dict, where: str) -> Contact:
    r.keys(t, where, {"name", "duty", "department", "area", "account", "email"})
    name = r.text(t, where, "name", required=True)
    where = f"[[contact]] name=“{name}”"
    email = r.text(t, where, "email")
    if email is not None and "@" not in email:
        raise r.error(where, "email", f"“{email}”不是邮箱地址")
    return Contact(name=name, duty=r.choice(t, where, "duty", DUTIES), area=r.area(t, where, "area"),
                   department=r.text(t, where, "department"), account=r.text(t, where, "account"), email=email)


def _brief(r: _Reader, t: dict, where: str, channels, contacts) -> BriefJob:
    r.keys(t, where, {"region", "day_of_month", "channels", "recipients"})
    region = r.area(t, where, "region")
    day = r.integer(t, where, "day_of_month", None, low=1, high=28)
    chosen = r.texts(t, where, "channels")
    if not chosen:
        raise r.error(where, "channels", "缺少 channels（发送专报的渠道 id 列表）")
    known = {c.id for c in channels}
    for c in chosen:
        if c not in known:
            raise r.error(where, "channels", f"渠道“{c}”未在 [[channel]] 中定义")
    people = r.texts(t, where, "recipients")
    names = {c.name for c in contacts}
    for p in people:
        if p not in names:
            raise r.error(where, "recipients", f"联系人“{p}”未在 [[contact]] 中定义")
    return BriefJob(region=region, day_of_month=day, channels=chosen, recipients=people)


def _unique(r: _Reader, values: list[str], where: str, key: str) -> None:
    seen = set()
    for v in values:
        if v in seen:
            raise r.error(where, key, f"“{v}”重复出现，每个渠道的 id 须唯一")
        seen.add(v)


class _Reader:
    """Typed reads of one file's tables, each failure a ConfigError naming the file, the table and the key."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, where: str, key: str, what: str) -> ConfigError:
        at = f"{where} 的 {key}" if where else key
        return ConfigError(f"推送配置 {self.path}：{at}：{what}")

    def keys(self, t: dict, where: str, allowed: set[str]) -> None:
        for k in t:
            if k not in allowed:
                raise self.error(where, k, f"未知的设置项（可用：{'、'.join(sorted(allowed))}）")

    def table(self, doc: dict, key: str) -> dict:
        v = doc.get(key, {})
        if not isinstance(v, dict):
            raise self.error("", key, f"应为表 [{key}]")
        return v

    def tables(self, doc: dict, key: str) -> list[dict]:
        v = doc.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise self.error("", key, f"应写作 [[{key}]] 表数组")
        return v

    def text(self, t: dict, where: str, key: str, required: bool = False) -> str | None:
        v = t.get(key)
        if v is None:
            if required:
                raise self.error(where, key, "缺少此项")
            return None
        if not isinstance(v, str) or not v.strip():
            raise self.error(where, key, "应为非空字符串")
        return v.strip()

    def texts(self, t: dict, where: str, key: str, default=(), choices=None) -> tuple[str, ...]:
        v = t.get(key, list(default))
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise self.error(where, key, "应为字符串列表，如 [\"a\", \"b\"]")
        for x in v:
            if choices and x not in choices:
                raise self.error(where, key, f"“{x}”无效，可选：{'、'.join(choices)}")
        return tuple(x.strip() for x in v)

    def choice(self, t: dict, where: str, key: str, choices) -> str:
        v = self.text(t, where, key, required=True)
        if v not in choices:
            raise self.error(where, key, f"“{v}”无效，可选：{'、'.join(choices)}")
        return v

    def boolean(self, t: dict, where: str, key: str, default: bool) -> bool:
        v = t.get(key, default)
        if not isinstance(v, bool):
            raise self.error(where, key, "应为 true 或 false")
        return v

    def integer(self, t: dict, where: str, key: str, default, low: int, high: int) -> int:
        v = t.get(key, default)
        if v is None:
            raise self.error(where, key, "缺少此项")
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise self.error(where, key, f"应为 {low} 到 {high} 之间的整数（现为 {v!r}）")
        return v

    def number(self, t: dict, where: str, key: str, default: float, low: float, high: float) -> float:
        v = t.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
            raise self.error(where, key, f"应为 {low:g} 到 {high:g} 之间的数（秒）（现为 {v!r}）")
        return float(v)

    def url(self, t: dict, where: str, key: str) -> str | None:
        v = self.text(t, where, key)
        if v is not None and not v.startswith(("http://", "https://")):
            raise self.error(where, key, "应以 http:// 或 https:// 开头")
        return v

    def secret_value(self, t: dict, where: str, key: str) -> str | None:
        """`key` written in the file, or `key_env` naming the environment variable that holds it."""
        env = self.text(t, where, f"{key}_env")
        if env is not None and key in t:
            raise self.error(where, key, f"{key} 与 {key}_env 只能给出其一")
        if env is None:
            return self.text(t, where, key)
        v = os.environ.get(env)
        if not v:
            raise self.error(where, f"{key}_env", f"环境变量 {env} 未设置或为空")
        return v

    def area(self, t: dict, where: str, key: str) -> str:
        v = t.get(key)
        code = auth.normalise_area(v) if isinstance(v, (str, int)) and not isinstance(v, bool) else None
        if code is None:
            raise self.error(where, key, "缺少此项" if v is None else f"“{v}”不是区划代码（2 至 12 位数字，写成字符串）")
        return code

    def areas(self, t: dict, where: str) -> tuple[str, ...]:
        v = t.get("areas")
        if not isinstance(v, list) or not v:
            raise self.error(where, "areas", "缺少 areas（该渠道服务的区划代码列表，如 [\"430671000000\"]）")
        return tuple(self.area({"areas": x}, where, "areas") for x in v)
