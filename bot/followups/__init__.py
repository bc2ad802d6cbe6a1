"""Caring follow-ups (issue 18): with the resident's consent, the bot checks in after a
crisis or a worrying result.

- `effects.py`: the engine's follow-up events inside the resident's turn (offered,
  accepted: the series is scheduled and the address sealed; declined; answered; stopped,
  "berhenti", /hapus, consent withdrawn: the series and its address are deleted), and a
  turn observer (a check-in answered with crisis words, an escalation from a check-in).
- `offers.py`: after a cadre resolves a case whose resident agreed to be contacted, one
  offer is scheduled (the desk calls it inside the resolve transaction).
- `schedule.py`: when a check-in is due, inside the content's sending hours.
- `scheduler.py`: the background loop (bot/serve.py runs it like the dispatcher): claims
  due check-ins with a lease, puts the check-in into the resident's conversation
  (`Conversations.interject`), sends it once, and closes unanswered ones (a high-risk
  series whose last check-in goes unanswered becomes a low-urgency task for the cadres,
  `flag.py`).
- `delivery.py`: what a channel must offer (Telegram: send to a chat; WhatsApp: free-form
  inside the 24-hour window, else the approved `whatsapp.followup_template`).
- `counting.py`: the anonymous counts for `temanjiwa report`.

The schedule and every text are content (content/id/followups.yaml, flows/sapa.yaml,
flows/tawar_sapa.yaml); storage is storage/followups.py.
"""
