"""A resident's data rights inside the turn (UU PDP 27/2022, issue 7): the consent log and
what withdrawing consent does.

- `consent_given` (version): a `consent_log` row with the version agreed to and the time.
- `consent_withdrawn` (version): the withdrawal time is recorded on that row; the resident's
  screening results and profile (age group, area, …) are deleted; from now on nothing new is
  stored (the service stores results only with consent). The session itself stays so the
  conversation can go on, and /hapus deletes it and the log too.

Both run as effect handlers in the turn's one storage transaction (`effects()`, given to
`Conversations` by bot/app.py), so the session change and its proof commit together or not
at all.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.conversations import EffectContext, EffectHandler
from bot.rights.counting import keep_after_withdrawal
from flows.messages import Event
from storage import privacy

log = logging.getLogger(__name__)


async def on_consent_given(ctx: EffectContext, event: Event) -> list[Event]:
    version = str(event.data.get("version") or "")
    # The same moment the session records (the message's time), so the two always agree.
    at = datetime.fromisoformat(ctx.session.consent_at) if ctx.session.consent_at else ctx.now
    await privacy.record_consent_given(ctx.tx, ctx.user_key, version, at)
    return []


async def on_consent_withdrawn(ctx: EffectContext, event: Event) -> list[Event]:
    version = str(event.data.get("version") or "")
    await privacy.record_consent_withdrawn(ctx.tx, ctx.user_key, version, ctx.now)
    await privacy.delete_results(ctx.tx, ctx.user_key)
    profile = ctx.session.profile
    kept = keep_after_withdrawal(profile)
    profile.clear()
    profile.update(kept)
    return []


def effects() -> dict[str, EffectHandler]:
    """The engine events this module handles, for `Conversations(effects=...)`."""
    return {"consent_given": on_consent_given, "consent_withdrawn": on_consent_withdrawn}
