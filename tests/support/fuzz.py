"""Hostile webhook bodies for the fault suite: valid Telegram updates and WhatsApp payloads
with one part replaced by something a platform could send by mistake, or an attacker on
purpose (wrong types, huge numbers, deep nesting, broken Unicode, missing keys). Seeded,
so a failure can be replayed."""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Iterator
from typing import Any

DEEP = 100_000  # levels: json's recursion gives up long before

_WEIRD_STRINGS = [
    "", " ", "\x00", "\ud800", "a\udfffb", "\u202e", "\ufeff", "x" * 5000, "🙂" * 300,
    "<b>", "%s%s%n", "{}", "[]", "null", "1e309", "../../etc/passwd", "kd:ambil:TJ-XXXX",
    "q.1|setuju", "|", "/start " + "x" * 200,
]
_WEIRD_NUMBERS = [0, -1, 2**31, 2**63 - 1, -(2**63), 2**64, 10**30, 1.5, -0.0, 1e308]


def weird_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(_WEIRD_STRINGS)
    if roll < 0.45:
        return rng.choice(_WEIRD_NUMBERS)
    if roll < 0.55:
        return rng.choice([None, True, False])
    if roll < 0.7 and depth < 3:
        return [weird_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if roll < 0.85 and depth < 3:
        return {rng.choice(["id", "text", "type", "from", "chat", "date", "data", "x"]):
                weird_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rng.choice(["text", 12345, {"id": 1}, [1, 2], "private", "group"])


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*prefix, index))


def mutate(rng: random.Random, doc: Any, times: int = 1) -> Any:
    """A copy of `doc` with `times` random parts replaced or removed."""
    doc = copy.deepcopy(doc)
    for _ in range(times):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            return weird_value(rng)
        path = rng.choice(paths)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[path[-1]]
        else:
            parent[path[-1]] = weird_value(rng)
    return doc


def deep_nesting(levels: int = DEEP) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


def encode(doc: Any) -> bytes:
    """JSON as a platform sends it; lone surrogates travel as \\ud800 escapes."""
    return json.dumps(doc, ensure_ascii=True, allow_nan=True).encode()


def telegram_update(update_id: int, chat_id: int, kind: str) -> dict[str, Any]:
    user = {"id": chat_id, "is_bot": False, "first_name": "Warga"}
    chat = {"id": chat_id, "type": "private", "first_name": "Warga"}
    message = {"message_id": update_id, "date": int(time.time()), "chat": chat, "from": user,
               "text": "halo"}
    if kind == "message":
        return {"update_id": update_id, "message": message}
    if kind == "caption":
        photo = [{"file_id": "F", "file_unique_id": "U", "width": 1, "height": 1}]
        return {"update_id": update_id, "message": {**{k: v for k, v in message.items()
                                                       if k != "text"},
                                                    "photo": photo, "caption": "lihat"}}
    if kind == "edited_message":
        return {"update_id": update_id, "edited_message": {**message, "edit_date": 1}}
    if kind == "callback_query":
        return {"update_id": update_id, "callback_query": {
            "id": str(update_id), "from": user, "chat_instance": "1", "data": "menu.utama|x",
            "message": {**message, "from": {"id": 1, "is_bot": True, "first_name": "Bot"}}}}
    member = {"user": {"id": 1, "is_bot": True, "first_name": "Bot"}, "status": "kicked",
              "until_date": 0}
    return {"update_id": update_id, "my_chat_member": {
        "chat": chat, "from": user, "date": int(time.time()),
        "old_chat_member": {**member, "status": "member"}, "new_chat_member": member}}


TELEGRAM_KINDS = ("message", "caption", "edited_message", "callback_query", "my_chat_member")


def whatsapp_payload(number: str, mid: str) -> dict[str, Any]:
    message = {"from": number, "id": mid, "timestamp": str(int(time.time())), "type": "text",
               "text": {"body": "halo"}}
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550783881",
                          "phone_number_id": "106540352242922"},
             "contacts": [{"profile": {"name": "Warga"}, "wa_id": number}],
             "messages": [message]}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}]}
