"""Webhook bodies as Meta sends them, kept in tests/data/whatsapp/ (one JSON file per kind).

They were written from the Cloud API webhook reference (messages of each type, system
notices, statuses and the other fields) with one resident, `RESIDENT`, and one business
number. `fresh` gives a body new message ids and a timestamp, so a test can send the same
kind twice without it being taken for Meta's redelivery.
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "whatsapp"
RESIDENT = "6285700001234"  # the sender in every body
NEW_NUMBER = "6285700005678"  # system_user_changed_number.json: the resident's new number

_serial = itertools.count(1)


def names() -> list[str]:
    return sorted(p.stem for p in DATA.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def fresh(
    body: dict[str, Any], *, ts: int | None = None, sender: str | None = None
) -> dict[str, Any]:
    """A copy with new message and status ids (and `ts`, `sender` where given)."""
    out = copy.deepcopy(body)
    for entry in out.get("entry", []):
        for change in entry.get("changes", []):
            value = change.get("value", {})
            for item in value.get("messages", []) + value.get("statuses", []):
                item["id"] = f"{item['id'][:-4]}{next(_serial):04d}"
                if ts is not None:
                    item["timestamp"] = str(ts)
                if sender is not None and "from" in item:
                    item["from"] = sender
            if sender is not None:
                for contact in value.get("contacts", []):
                    contact["wa_id"] = sender
    return out
