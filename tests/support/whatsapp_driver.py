"""Run the editors' conversation tests (content/*/tests) through the WhatsApp channel.

`WhatsAppDriver` is a `flows.convtest.Driver`: each step becomes a real, signed webhook
POST (text, a tap on a reply button or list row, a typed number for a numbered menu, a
sticker…) to the running web app, and the step's replies are read back from what the
channel actually sent to the Graph API (any server that records the bodies, e.g. the fake
in tests/fakes/graph_api.py). Events are not visible on WhatsApp; they come from the
channel's `on_turn` hook. Where the wire cannot show something the tests check — the node
of a plain text bubble, the choices of a numbered text menu — the engine's own reply fills
it in, and only after checking that the menu text really lists those choices.

The payload builders are also what the tests use to play Meta.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from bot.whatsapp.parse import InboundMessage
from bot.whatsapp.signature import SIGNATURE_HEADER, sign
from flows.convtest import checkin_step_params, session_from_setup
from flows.messages import Choice, Event, Inbound, Reply
from storage import followups

_ids = itertools.count(1)


# -- payloads as Meta sends them --------------------------------------------------------


def new_message_id() -> str:
    return f"wamid.TEST{time.time_ns()}{next(_ids)}"


def message(
    mtype: str,
    content: dict[str, Any] | None,
    *,
    sender: str,
    mid: str | None = None,
    ts: int | None = None,
) -> dict[str, Any]:
    m: dict[str, Any] = {
        "from": sender,
        "id": mid or new_message_id(),
        "timestamp": str(ts if ts is not None else int(time.time())),
        "type": mtype,
    }
    if content is not None:
        m[mtype] = content
    return m


def text_message(text: str, *, sender: str, **kw: Any) -> dict[str, Any]:
    return message("text", {"body": text}, sender=sender, **kw)


def button_reply(reply_id: str, title: str, *, sender: str, **kw: Any) -> dict[str, Any]:
    content = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
    return message("interactive", content, sender=sender, **kw)


def list_reply(reply_id: str, title: str, *, sender: str, **kw: Any) -> dict[str, Any]:
    content = {"type": "list_reply", "list_reply": {"id": reply_id, "title": title}}
    return message("interactive", content, sender=sender, **kw)


def template_button(text: str, *, sender: str, payload: str = "", **kw: Any) -> dict[str, Any]:
    return message("button", {"text": text, "payload": payload or text}, sender=sender, **kw)


MEDIA_CONTENT: dict[str, tuple[str, dict[str, Any]]] = {
    "sticker": ("sticker", {"id": "1", "mime_type": "image/webp", "animated": False}),
    "image": ("image", {"id": "2", "mime_type": "image/jpeg"}),
    "photo": ("image", {"id": "2", "mime_type": "image/jpeg"}),
    "voice": ("audio", {"id": "3", "mime_type": "audio/ogg", "voice": True}),
    "audio": ("audio", {"id": "3", "mime_type": "audio/mpeg"}),
    "video": ("video", {"id": "4", "mime_type": "video/mp4"}),
    "document": ("document", {"id": "5", "mime_type": "application/pdf"}),
    "location": ("location", {"latitude": -8.1, "longitude": 111.9}),
}


def media_message(kind: str, *, sender: str, **kw: Any) -> dict[str, Any]:
    mtype, content = MEDIA_CONTENT.get(kind, (kind, {"id": "9"}))
    return message(mtype, content, sender=sender, **kw)


def payload(
    messages: Sequence[dict[str, Any]] = (),
    *,
    contacts: Sequence[dict[str, Any]] | None = None,
    statuses: Sequence[dict[str, Any]] = (),
    phone_number_id: str = "106540352242922",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
    }
    if contacts is None:
        contacts = [
            {"profile": {"name": "Warga"}, "wa_id": m["from"]} for m in messages if "from" in m
        ]
    if contacts:
        value["contacts"] = list(contacts)
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def failed_status(wamid: str, recipient: str, code: int) -> dict[str, Any]:
    return {
        "id": wamid,
        "status": "failed",
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
        "errors": [{"code": code, "title": "failed"}],
    }


def signed(body: dict[str, Any], app_secret: str) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return raw, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(app_secret, raw)}


# -- reading what was sent --------------------------------------------------------------


def replies_from_bodies(bodies: Sequence[dict[str, Any]]) -> list[Reply]:
    """What a resident saw, as engine `Reply`s: text bubbles, buttons and list rows."""
    replies: list[Reply] = []
    for body in bodies:
        kind = body.get("type")
        if kind == "text":
            replies.append(Reply(str(body["text"]["body"])))
        elif kind == "interactive":
            inter = body["interactive"]
            text = str(inter.get("body", {}).get("text", ""))
            if inter.get("type") == "button":
                items = [b["reply"] for b in inter["action"]["buttons"]]
            else:
                items = [r for s in inter["action"]["sections"] for r in s["rows"]]
            node = ""
            choices = []
            for item in items:
                head, sep, choice = str(item["id"]).partition("|")
                node = head if sep else node
                choices.append(Choice(choice if sep else head, str(item["title"])))
            replies.append(Reply(text, tuple(choices), node))
        elif kind == "template":
            replies.append(Reply(f"[template {body['template']['name']}]"))
    return replies


class WhatsAppDriver:
    """A `flows.convtest.Driver` over the real webhook (see the module docstring).

    `channel`: the running `WhatsAppChannel` (its `on_turn` is taken over for events);
    `http`: a client for the web app; `sent`: returns every body sent to the Graph API
    so far (in order). Each driver is a new resident (a fresh wa_id).
    """

    _numbers = itertools.count(1)

    def __init__(
        self,
        channel: Any,
        http: httpx.AsyncClient,
        webhook_url: str,
        app_secret: str,
        sent: Callable[[], Sequence[dict[str, Any]]],
        *,
        wa_id: str | None = None,
        phone_number_id: str | None = None,
    ) -> None:
        self.channel = channel
        self.http = http
        self.url = webhook_url
        self.secret = app_secret
        self.sent = sent
        self.wa_id = wa_id or f"62899{next(self._numbers):08d}"
        self.phone_number_id = phone_number_id or channel.phone_number_id or "106540352242922"
        self.events: list[Event] = []
        self.last_engine: list[Reply] = []
        self.last_wire: list[dict[str, Any]] = []
        self._seen = 0
        self._hooked = False

    async def start(self, setup: dict[str, Any]) -> None:
        previous = self.channel.on_turn

        async def on_turn(message: InboundMessage, turn: Any) -> None:
            if message.user_ref == self.wa_id:
                self.events.extend(turn.events)
                self.last_engine = list(turn.replies)
            elif previous is not None:
                await previous(message, turn)

        self.channel.on_turn = on_turn
        self._restore = previous
        self._hooked = True
        self._seen = len(self.sent())
        session = session_from_setup(setup)
        if session is not None:
            conversations = self.channel.conversations
            key = conversations.key_for("whatsapp", self.wa_id)
            now = conversations.clock()
            async with conversations.store.transaction() as tx:
                await tx.save_session(key, session, now)
                kind = str(setup.get("followup") or "")
                if kind:  # a series already runs (what {followup} reads); no address needed
                    status = "declined" if kind == "declined" else "active"
                    await followups.start_series(tx, user_key=key, status=status,
                                                 kind=kind if status == "active" else "crisis",
                                                 now=now, address_enc=None)

    async def send(self, inbound: Inbound) -> tuple[list[Reply], list[Event]]:
        msg = self._message_for(inbound)
        raw, headers = signed(payload([msg], phone_number_id=self.phone_number_id), self.secret)
        response = await self.http.post(self.url, content=raw, headers=headers)
        if response.status_code != 200:
            raise AssertionError(f"webhook answered {response.status_code}")
        await self.channel.wait_idle()
        everything = self.sent()
        mine = [b for b in everything[self._seen :] if _recipient(b) == self.wa_id]
        self._seen = len(everything)
        events, self.events = self.events, []
        self.last_wire = mine
        return self._replies(mine), events

    async def checkin(self, params: dict[str, Any]) -> tuple[list[Reply], list[Event]]:
        """The bot checks in first, as the follow-up scheduler does: the check-in flow over
        the resident's conversation (`Conversations.interject`), sent with the channel's
        `send_first`; the replies are read back from what reached the Graph API."""
        conversations = self.channel.conversations
        settings = conversations.engine.content.followups
        assert settings is not None, "a checkin: step needs followups.yaml"
        key = conversations.key_for("whatsapp", self.wa_id)

        async def hold(tx: Any) -> bool:
            return True

        replies = await conversations.interject(
            key, settings.checkin_flow, checkin_step_params(params), hold=hold
        )
        assert replies is not None, "the resident has no session (setup: {consent: true})"
        status = await self.channel.send_first(self.wa_id, replies)
        assert status == "sent", status
        everything = self.sent()
        mine = [b for b in everything[self._seen :] if _recipient(b) == self.wa_id]
        self._seen = len(everything)
        self.last_engine = list(replies)
        self.last_wire = mine
        return self._replies(mine), []

    async def close(self) -> None:
        if self._hooked:
            self.channel.on_turn = self._restore
            self._hooked = False

    # -- internals ----------------------------------------------------------------------

    def _message_for(self, inbound: Inbound) -> dict[str, Any]:
        if inbound.text is not None:
            return text_message(inbound.text, sender=self.wa_id)
        if inbound.media is not None:
            return media_message(inbound.media, sender=self.wa_id)
        choice = inbound.choice or ""
        last = self.last_wire[-1] if self.last_wire else None
        if last is not None and last.get("type") == "interactive":
            inter = last["interactive"]
            if inter["type"] == "button":
                for b in inter["action"]["buttons"]:
                    if _choice_of(b["reply"]["id"]) == choice:
                        return button_reply(
                            b["reply"]["id"], b["reply"]["title"], sender=self.wa_id
                        )
            else:
                for row in (r for s in inter["action"]["sections"] for r in s["rows"]):
                    if _choice_of(row["id"]) == choice:
                        return list_reply(row["id"], row["title"], sender=self.wa_id)
        if last is not None and last.get("type") == "text" and self.last_engine:
            offered = self.last_engine[-1].choices
            for n, c in enumerate(offered, start=1):
                if c.id == choice and f"{n}. {c.label}" in last["text"]["body"]:
                    return text_message(str(n), sender=self.wa_id)  # the numbered menu
        # Not on the last message: like tapping a button on an older message.
        return button_reply(choice, choice, sender=self.wa_id)

    def _replies(self, bodies: list[dict[str, Any]]) -> list[Reply]:
        replies = replies_from_bodies(bodies)
        if not replies or not self.last_engine:
            return replies
        last, engine_last = replies[-1], self.last_engine[-1]
        if bodies[-1].get("type") == "text":
            choices: tuple[Choice, ...] = ()
            listed = all(
                f"{n}. {c.label}" in last.text for n, c in enumerate(engine_last.choices, 1)
            )
            if engine_last.choices and listed:
                choices = engine_last.choices
            replies[-1] = Reply(last.text, choices, engine_last.node)
        return replies


def _choice_of(reply_id: str) -> str:
    head, sep, choice = reply_id.partition("|")
    return choice if sep else head


def _recipient(body: dict[str, Any]) -> str | None:
    return body.get("to") or body.get("recipient")
