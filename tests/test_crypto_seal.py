"""Sealed JSON values survive text that is not valid Unicode (a webhook can carry it)."""

from cryptography.fernet import Fernet

from bot.crypto import Sealer


def test_a_lone_surrogate_is_sealed_and_opened_again():
    sealer = Sealer(Fernet.generate_key())
    value = {"text": "tolong \ud83d aku", "n": 1}
    assert sealer.open_json(sealer.seal_json(value)) == value


def test_ordinary_text_is_sealed_as_is():
    sealer = Sealer(Fernet.generate_key())
    assert sealer.open(sealer.seal_json({"t": "sedih ê"})) == '{"t":"sedih ê"}'
