"""Deployment configuration: one YAML file for what differs between deployments.

Areas, cadre routes, time zone, retention, local services and hotline overrides live
in the file (`--config` or TEMANJIWA_CONFIG); secrets only ever come from the
environment. An invalid file stops start-up with a message naming the key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.crypto import KEY_ENV
from flows.messages import Choice
from flows.runtime import EngineSettings
from storage import database_target, is_postgres_url
from storage.keys import SECRET_ENV

CONFIG_ENV = "TEMANJIWA_CONFIG"
REPO_CONTENT = Path(__file__).resolve().parent.parent / "content" / "id"
TIMEZONES = {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar", "WIT": "Asia/Jayapura"}
TIMEZONE_LABELS = {v: k for k, v in TIMEZONES.items()}
SECRET_KEYS = {"token", "secret", "password", "app_secret", "access_token", "api_key"}
TELEGRAM_USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")  # 5–32 characters


def default_content_dir() -> Path:
    """TEMANJIWA_CONTENT, else the content/id folder beside the code, else ./content/id."""
    env = os.environ.get("TEMANJIWA_CONTENT")
    if env:
        return Path(env)
    if REPO_CONTENT.is_dir():
        return REPO_CONTENT
    return Path.cwd() / "content" / "id"


def default_db_path() -> Path:
    """TEMANJIWA_DB, else ~/.local/share/temanjiwa/temanjiwa.db (XDG_DATA_HOME respected)."""
    env = os.environ.get("TEMANJIWA_DB")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "temanjiwa" / "temanjiwa.db"


@dataclass(frozen=True)
class Database:
    """Where the bot keeps its data: an SQLite file (the embedded default) or PostgreSQL."""

    target: str | Path  # what storage.make_store opens: a postgresql:// URL or a file path
    sqlite_path: Path | None  # the SQLite file; None for PostgreSQL
    state_dir: Path  # the content's last good copy (and, for SQLite, the key files) live here

    @property
    def postgres(self) -> bool:
        return self.sqlite_path is None


def choose_database(config: Config, explicit: str | Path | None = None) -> Database:
    """`--db`, else TEMANJIWA_DATABASE_URL, else the config's `database`, else the default
    SQLite file. With PostgreSQL every worker must share the HMAC secret and the encryption
    key, so both must come from the environment (no key files beside a database URL)."""
    target = database_target(explicit, config.database, default_db_path())
    if not is_postgres_url(target):
        path = Path(target)
        return Database(path, path, path.parent)
    missing = [n for n in (SECRET_ENV, KEY_ENV) if not os.environ.get(n)]
    if missing:
        raise ConfigError(
            "with PostgreSQL (several workers) set " + " and ".join(missing)
            + " in the environment, the same on every worker (README: Running on several "
            "machines)"
        )
    return Database(str(target), None, default_db_path().parent)


def normalise_number(number: str) -> str:
    """A phone number as WhatsApp's `wa_id`: digits only, a local leading 0 becomes 62."""
    digits = "".join(ch for ch in str(number) if ch.isdigit())
    return "62" + digits[1:] if digits.startswith("0") else digits


class ConfigError(Exception):
    """A deployment file mistake; the message names the key and says what to write."""


@dataclass(frozen=True)
class Area:
    id: str
    label: str
    route: str | None = None


@dataclass(frozen=True)
class Route:
    """Where alerts for an area go: a Telegram group and/or WhatsApp numbers."""

    id: str
    name: str
    telegram_chat_id: int | None = None
    whatsapp_numbers: tuple[str, ...] = ()
    supervisor: str | None = None  # the next route in the fallback chain


@dataclass(frozen=True)
class Service:
    name: str
    kind: str
    contact: str = ""
    hours: str = ""
    area: str | None = None
    example: bool = False


@dataclass(frozen=True)
class Retention:
    inactive_days: int = 90
    closed_case_days: int = 30


@dataclass(frozen=True)
class Escalation:
    urgent_minutes: int = 5
    high_minutes: int = 30
    check_minutes: int = 24 * 60


@dataclass(frozen=True)
class Posters:
    """How residents find the bot, printed on posters: its Telegram username and WhatsApp
    number (the bot's own business number, in international form without +)."""

    telegram_username: str | None = None
    whatsapp_number: str | None = None


def telegram_username(raw: object, key: str = "posters.telegram_username") -> str:
    """The bot's username without '@'; ConfigError naming `key` if it cannot be one."""
    name = str(raw or "").strip().removeprefix("@")
    if not TELEGRAM_USERNAME_RE.match(name):
        raise _fail(key, f"'{raw}' is not a Telegram username (5–32 letters, digits and _, "
                    "e.g. TemanJiwaBot)")
    return name


def whatsapp_number(raw: object, key: str = "posters.whatsapp_number") -> str:
    """The number as wa.me wants it: digits with the country code, no + or spaces."""
    text = str(raw or "").strip()
    digits = re.sub(r"[\s().-]", "", text).removeprefix("+")
    if digits.startswith("0"):
        raise _fail(key, f"'{raw}': write it with the country code instead of the 0, "
                    "e.g. 6281234567890")
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise _fail(key, f"'{raw}' is not a phone number with country code, e.g. 6281234567890")
    return digits


@dataclass(frozen=True)
class Config:
    timezone: str = "Asia/Jakarta"
    areas: tuple[Area, ...] = ()
    routes: dict[str, Route] = field(default_factory=dict)
    default_route: str | None = None
    services: tuple[Service, ...] = ()
    hotlines: dict[str, str] = field(default_factory=dict)
    retention: Retention = Retention()
    escalation: Escalation = Escalation()
    database: str | None = None
    content: str | None = None
    cadres: dict[str, Any] = field(default_factory=dict)
    telegram: dict[str, Any] = field(default_factory=dict)
    whatsapp: dict[str, Any] = field(default_factory=dict)
    posters: Posters = Posters()
    source: str = "(defaults)"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def timezone_label(self) -> str:
        return TIMEZONE_LABELS.get(self.timezone, self.timezone)

    def route_for_area(self, area_id: str | None) -> Route | None:
        area = next((a for a in self.areas if a.id == area_id), None)
        route_id = area.route if area and area.route else self.default_route
        return self.routes.get(route_id) if route_id else None

    def services_text(self) -> str:
        lines = []
        for s in self.services:
            mark = " (CONTOH)" if s.example else ""
            detail = " · ".join(x for x in (s.contact, s.hours) if x)
            lines.append(f"• {s.name}{mark}" + (f": {detail}" if detail else ""))
        return "\n".join(lines)

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(
            areas=tuple(Choice(a.id, a.label) for a in self.areas),
            services_text=self.services_text(),
            hotline_texts=dict(self.hotlines),
            timezone=self.tz,
            retention_days=self.retention.inactive_days,
        )


def _fail(key: str, message: str) -> ConfigError:
    return ConfigError(f"{key}: {message}")


def _int(data: dict, key: str, default: int, where: str) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _fail(f"{where}.{key}", f"must be a whole number above 0, got {value!r}")
    return value


def _check_no_secrets(data: Any, where: str) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).lower() in SECRET_KEYS and value:
                raise _fail(f"{where}{key}", "secrets must come from the environment, not the "
                            "config file (see README: Configuration)")
            _check_no_secrets(value, f"{where}{key}.")


def parse_config(data: Any, source: str = "(inline)") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail("(top level)", "the config file must be a mapping of keys")
    known = {"timezone", "areas", "routes", "default_route", "services", "hotlines", "retention",
             "escalation", "database", "content", "cadres", "telegram", "whatsapp", "posters"}
    for key in data:
        if key not in known:
            raise _fail(str(key), f"unknown key; known keys: {', '.join(sorted(known))}")
    _check_no_secrets(data, "")

    tz_raw = str(data.get("timezone", "WIB"))
    timezone = TIMEZONES.get(tz_raw.upper(), tz_raw)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail("timezone", f"'{tz_raw}' is not WIB, WITA, WIT or a time zone name") from None

    routes: dict[str, Route] = {}
    for rid, raw in (data.get("routes") or {}).items():
        where = f"routes.{rid}"
        if not isinstance(raw, dict):
            raise _fail(where, "must be a mapping with name and telegram_chat_id/whatsapp_numbers")
        chat = raw.get("telegram_chat_id")
        if chat is not None and (isinstance(chat, bool) or not isinstance(chat, int)):
            raise _fail(f"{where}.telegram_chat_id", "must be a number such as -1001234567890")
        numbers = raw.get("whatsapp_numbers") or []
        if not isinstance(numbers, list):
            raise _fail(f"{where}.whatsapp_numbers", "must be a list")
        routes[str(rid)] = Route(str(rid), str(raw.get("name") or rid), chat,
                                 tuple(str(n) for n in numbers), raw.get("supervisor"))
    for route in routes.values():
        if route.supervisor and route.supervisor not in routes:
            raise _fail(f"routes.{route.id}.supervisor", f"'{route.supervisor}' is not a route")
    default_route = data.get("default_route")
    if default_route is not None and default_route not in routes:
        raise _fail("default_route", f"'{default_route}' is not one of routes")

    areas = []
    for i, raw in enumerate(data.get("areas") or []):
        where = f"areas[{i}]"
        if not isinstance(raw, dict) or not raw.get("id") or not raw.get("label"):
            raise _fail(where, "needs id and label")
        if raw.get("route") and raw["route"] not in routes:
            raise _fail(f"{where}.route", f"'{raw['route']}' is not one of routes")
        if len(str(raw["label"])) > 24:
            raise _fail(f"{where}.label", "at most 24 characters (WhatsApp list rows)")
        areas.append(Area(str(raw["id"]), str(raw["label"]), raw.get("route")))

    services = []
    for i, raw in enumerate(data.get("services") or []):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise _fail(f"services[{i}]", "needs at least a name")
        services.append(Service(str(raw["name"]), str(raw.get("kind", "")),
                                str(raw.get("contact", "")), str(raw.get("hours", "")),
                                raw.get("area"), bool(raw.get("example", False))))

    hotlines = data.get("hotlines") or {}
    if not isinstance(hotlines, dict):
        raise _fail("hotlines", "must map a hotline id to its text")

    retention_raw = data.get("retention") or {}
    escalation_raw = data.get("escalation") or {}
    return Config(
        posters=_posters(data.get("posters")),
        timezone=timezone,
        areas=tuple(areas),
        routes=routes,
        default_route=default_route,
        services=tuple(services),
        hotlines={str(k): str(v) for k, v in hotlines.items()},
        retention=Retention(
            _int(retention_raw, "inactive_days", 90, "retention"),
            _int(retention_raw, "closed_case_days", 30, "retention"),
        ),
        escalation=Escalation(
            _int(escalation_raw, "urgent_minutes", 5, "escalation"),
            _int(escalation_raw, "high_minutes", 30, "escalation"),
            _int(escalation_raw, "check_minutes", 24 * 60, "escalation"),
        ),
        database=data.get("database"),
        content=data.get("content"),
        cadres=dict(data.get("cadres") or {}),
        telegram=dict(data.get("telegram") or {}),
        whatsapp=dict(data.get("whatsapp") or {}),
        source=source,
    )


def _posters(raw: Any) -> Posters:
    if raw is None:
        return Posters()
    if not isinstance(raw, dict):
        raise _fail("posters", "must be a mapping with telegram_username and/or whatsapp_number")
    unknown = set(raw) - {"telegram_username", "whatsapp_number"}
    if unknown:
        raise _fail(f"posters.{sorted(unknown)[0]}",
                    "unknown key; known keys: telegram_username, whatsapp_number")
    name, number = raw.get("telegram_username"), raw.get("whatsapp_number")
    return Posters(telegram_username(name) if name else None,
                   whatsapp_number(number) if number else None)


def load_config(path: str | Path | None = None) -> Config:
    """Read the deployment file (argument, else TEMANJIWA_CONFIG, else built-in defaults)."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        return Config()
    file = Path(chosen)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{file}{where}: not valid YAML") from None
    try:
        return parse_config(data, str(file))
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None
