"""WhatsApp settings: secrets and endpoint from the environment, the rest from the
deployment file's `whatsapp:` section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.config import ConfigError

from .client import DEFAULT_API_VERSION, DEFAULT_BASE_URL
from .render import DEFAULT_LIST_BUTTON, DEFAULT_MENU_HINT, RenderOptions
from .window import TemplateConfig

ENV_ACCESS_TOKEN = "WHATSAPP_ACCESS_TOKEN"
ENV_APP_SECRET = "WHATSAPP_APP_SECRET"
ENV_VERIFY_TOKEN = "WHATSAPP_VERIFY_TOKEN"
ENV_PHONE_NUMBER_ID = "WHATSAPP_PHONE_NUMBER_ID"
ENV_BASE_URL = "WHATSAPP_API_BASE_URL"
ENV_API_VERSION = "WHATSAPP_API_VERSION"
REQUIRED_ENV = (ENV_ACCESS_TOKEN, ENV_APP_SECRET, ENV_VERIFY_TOKEN, ENV_PHONE_NUMBER_ID)


@dataclass(frozen=True)
class WhatsAppSettings:
    """Secrets and endpoint from the environment; the rest from `Config.whatsapp`."""

    access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    phone_number_id: str
    base_url: str = DEFAULT_BASE_URL
    api_version: str = DEFAULT_API_VERSION

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WhatsAppSettings | None:
        """None when no WhatsApp secret is set; ConfigError when only some are."""
        present = {name: (env.get(name) or "").strip() for name in REQUIRED_ENV}
        if not any(present.values()):
            return None
        missing = [name for name, value in present.items() if not value]
        if missing:
            raise ConfigError(
                "WhatsApp is partly configured: also set " + ", ".join(missing) + " (README: "
                "WhatsApp)"
            )
        return cls(
            access_token=present[ENV_ACCESS_TOKEN],
            app_secret=present[ENV_APP_SECRET],
            verify_token=present[ENV_VERIFY_TOKEN],
            phone_number_id=present[ENV_PHONE_NUMBER_ID],
            base_url=(env.get(ENV_BASE_URL) or "").strip() or DEFAULT_BASE_URL,
            api_version=(env.get(ENV_API_VERSION) or "").strip() or DEFAULT_API_VERSION,
        )


@dataclass(frozen=True)
class ChannelOptions:
    """Non-secret settings from the deployment file's `whatsapp:` section."""

    alert_template: TemplateConfig | None = None
    render: RenderOptions = field(default_factory=RenderOptions)
    min_interval: float = 0.0  # seconds between two messages to one number (0: Meta paces)
    template_every: timedelta = timedelta(hours=1)  # at most one template per number per…
    followup_template: TemplateConfig | None = None  # a follow-up check-in outside 24 h

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ChannelOptions:
        known = {
            "alert_template",
            "followup_template",
            "list_button",
            "menu_hint",
            "min_interval_seconds",
            "template_every_minutes",
        }
        for key in section:
            if key not in known:
                raise ConfigError(
                    f"whatsapp.{key}: unknown key; known keys: {', '.join(sorted(known))}"
                )
        template = _template(section, "alert_template", "teman_jiwa_pemberitahuan")
        followup = _template(section, "followup_template", "teman_jiwa_sapaan")
        render = RenderOptions(
            list_button=str(section.get("list_button") or DEFAULT_LIST_BUTTON),
            menu_hint=str(section.get("menu_hint") or DEFAULT_MENU_HINT),
        )
        interval = section.get("min_interval_seconds", 0)
        every = section.get("template_every_minutes", 60)
        for key, value in (("min_interval_seconds", interval), ("template_every_minutes", every)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"whatsapp.{key}: must be a number ≥ 0, got {value!r}")
        return cls(template, render, float(interval), timedelta(minutes=float(every)),
                   followup)


def _template(section: Mapping[str, Any], key: str, example: str) -> TemplateConfig | None:
    """An approved template from `whatsapp.<key>` (None when not set)."""
    raw = section.get(key)
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not str(raw.get("name") or "").strip():
        raise ConfigError(
            f"whatsapp.{key}: needs at least a name (an approved template), "
            f"e.g. {{name: {example}, language: id}}"
        )
    params = raw.get("parameters") or []
    if not isinstance(params, list):
        raise ConfigError(f"whatsapp.{key}.parameters: must be a list")
    return TemplateConfig(
        str(raw["name"]).strip(),
        str(raw.get("language") or "id").strip(),
        tuple(str(p) for p in params),
    )
