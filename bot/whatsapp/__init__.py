"""WhatsApp Cloud API transport: verify and parse webhooks, render and send replies.

Channel plumbing only; conversations live in the engine. See the module docstrings for
why each piece is shaped the way it is.
"""

from .address import Address
from .client import (
    GraphClient,
    GraphError,
    OutsideWindow,
    RetriesExhausted,
    RetryPolicy,
    Unreachable,
)
from .parse import (
    DeliveryFailure,
    InboundMessage,
    ParseProblem,
    ParseResult,
    parse_body,
    parse_webhook,
)
from .render import RenderOptions, render_reply, split_text, template_body, text_body
from .signature import sign, verify_challenge, verify_signature
from .webhook import RecentIds, WebhookOutcome, handle_verification, handle_webhook
from .window import (
    Delivered,
    HeldForReply,
    NeedsFallback,
    TemplateConfig,
    can_send_free_form,
    deliver,
)

__all__ = [
    "Address",
    "Delivered",
    "DeliveryFailure",
    "GraphClient",
    "GraphError",
    "HeldForReply",
    "InboundMessage",
    "NeedsFallback",
    "OutsideWindow",
    "ParseProblem",
    "ParseResult",
    "RecentIds",
    "RenderOptions",
    "RetriesExhausted",
    "RetryPolicy",
    "TemplateConfig",
    "Unreachable",
    "WebhookOutcome",
    "can_send_free_form",
    "deliver",
    "handle_verification",
    "handle_webhook",
    "parse_body",
    "parse_webhook",
    "render_reply",
    "sign",
    "split_text",
    "template_body",
    "text_body",
    "verify_challenge",
    "verify_signature",
]
