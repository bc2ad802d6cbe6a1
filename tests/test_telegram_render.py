"""Reply → Telegram messages: limits (4,096 characters, 64-byte callback_data), keyboards,
bold entities and the chosen-answer edit. Pure functions, no network."""

from __future__ import annotations

from bot.telegram.render import (
    EXPIRED_NODE,
    CallbackCodec,
    button_label,
    chosen_text,
    format_text,
    render_reply,
    render_turn,
    split_text,
    u16,
)
from flows.messages import Choice, Reply


def test_plain_reply_is_one_message_without_keyboard() -> None:
    (out,) = render_reply(Reply("Halo"), CallbackCodec())
    assert out.text == "Halo" and out.keyboard == () and out.reply_markup() is None


def test_choices_become_buttons_with_node_and_choice_in_callback_data() -> None:
    reply = Reply("Setuju?", (Choice("setuju", "Setuju"), Choice("tolak", "Tidak setuju")), "c.ask")
    (out,) = render_reply(reply, CallbackCodec())
    assert out.reply_markup() == {
        "inline_keyboard": [
            [
                {"text": "Setuju", "callback_data": "c.ask|setuju"},
                {"text": "Tidak setuju", "callback_data": "c.ask|tolak"},
            ]
        ]
    }


def test_long_labels_one_per_row_short_labels_packed() -> None:
    long = [Choice(str(i), f"Lebih dari separuh waktu {i}") for i in range(4)]
    (out,) = render_reply(Reply("?", tuple(long), "phq9.q1"), CallbackCodec())
    assert [len(row) for row in out.keyboard] == [1, 1, 1, 1]
    short = [Choice(str(i), str(i)) for i in range(11)]
    (out,) = render_reply(Reply("0-10?", tuple(short), "n.q"), CallbackCodec())
    assert [len(row) for row in out.keyboard] == [3, 3, 3, 2]


def test_callback_data_never_exceeds_64_bytes_and_round_trips() -> None:
    codec = CallbackCodec()
    node = "sebuah_alur_dengan_nama_yang_sangat_panjang.pertanyaan_ketiga_belas"
    data = codec.encode(node, "jawaban_é")
    assert len(data.encode()) <= 64
    assert codec.decode(data) == (node, "jawaban_é")
    assert codec.decode("a.b|c") == ("a.b", "c")
    # After a restart the token map is empty: the press counts as one on an old message.
    assert CallbackCodec().decode(data) == (EXPIRED_NODE, "")


def test_codec_map_is_bounded() -> None:
    codec = CallbackCodec(capacity=3)
    tokens = [codec.encode("n" * 70, str(i)) for i in range(5)]
    assert codec.decode(tokens[0]) == (EXPIRED_NODE, "")
    assert codec.decode(tokens[4]) == ("n" * 70, "4")


def test_descriptions_are_listed_under_the_text() -> None:
    reply = Reply(
        "Saya mampu menghadapi masalah?",
        (Choice("a", "Ya, sering tak mampu", 3, "Hampir selalu saya tidak sanggup"),
         Choice("b", "Tidak, tetap mampu", 0, "Saya bisa seperti biasa")),
        "epds.q6",
    )  # fmt: skip
    (out,) = render_reply(reply, CallbackCodec())
    assert "• Ya, sering tak mampu: Hampir selalu saya tidak sanggup" in out.text
    assert len(out.keyboard) == 2


def test_more_than_100_choices_fall_back_to_a_numbered_menu() -> None:
    choices = tuple(Choice(str(i), f"Pilihan {i}") for i in range(101))
    (out,) = render_reply(Reply("Pilih", choices, "x.y"), CallbackCodec())
    assert out.keyboard == ()
    assert "1. Pilihan 0" in out.text and "Ketik angkanya." in out.text


def test_long_text_is_split_and_keyboard_goes_on_the_last_part() -> None:
    paragraph = "Kalimat yang cukup panjang untuk mengisi pesan. " * 40
    text = "\n\n".join([paragraph] * 5)
    reply = Reply(text, (Choice("ok", "Oke"),), "n.q")
    parts = render_reply(reply, CallbackCodec())
    assert len(parts) > 1
    assert all(u16(p.text) <= 4096 for p in parts)
    assert [bool(p.keyboard) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert "".join(p.text for p in parts).replace(" ", "").replace("\n", "") == text.replace(
        " ", ""
    ).replace("\n", "")


def test_emoji_heavy_text_fits_in_utf16_units() -> None:
    text = "🙂" * 3000  # 3,000 characters, 6,000 UTF-16 code units
    parts = split_text(text)
    assert all(u16(p) <= 4096 for p in parts)
    assert "".join(parts) == text


def test_bold_markers_become_entities_with_utf16_offsets() -> None:
    text, entities = format_text("🌱 Ketik *menu* atau */hapus*. 5 * 3 = 15")
    assert text == "🌱 Ketik menu atau /hapus. 5 * 3 = 15"
    assert entities == (
        {"type": "bold", "offset": 9, "length": 4},
        {"type": "bold", "offset": 19, "length": 6},
    )


def test_chosen_text_appends_the_answer_in_bold() -> None:
    text, entities = chosen_text("Setuju?", [], "Setuju")
    assert text == "Setuju?\n\n➤ Setuju"
    assert entities == ({"type": "bold", "offset": 9, "length": 8},)
    markup = {"inline_keyboard": [[{"text": "Ya", "callback_data": "n|ya"}]]}
    assert button_label(markup, "n|ya") == "Ya"
    assert button_label(markup, "n|tidak") is None


def test_a_turn_is_one_message_when_it_fits_and_keeps_the_last_keyboard() -> None:
    replies = [
        Reply("*Halo*"),
        Reply("Ini *kedua*."),
        Reply("Pilih:", (Choice("a", "A"), Choice("b", "B")), "n.q"),
    ]
    (out,) = render_turn(replies, CallbackCodec())
    assert out.text == "Halo\n\nIni kedua.\n\nPilih:"
    assert out.entities == (
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "bold", "offset": 10, "length": 5},
    )
    assert out.keyboard == ((("A", "n.q|a"), ("B", "n.q|b")),)
    assert len(render_turn(replies, CallbackCodec(), join=False)) == 3


def test_joined_messages_never_exceed_the_limit() -> None:
    replies = [Reply("a" * 3000), Reply("b" * 1000), Reply("c" * 100), Reply("🙂" * 2100)]
    out = render_turn(replies, CallbackCodec())
    assert [len(m.text) for m in out] == [4002, 100, 2048, 52]
    assert all(u16(m.text) <= 4096 for m in out)
    # a keyboard in the middle ends a run: its buttons stay under its own text
    mid = [Reply("x", (Choice("1", "Satu"),), "n.a"), Reply("y")]
    assert [m.text for m in render_turn(mid, CallbackCodec())] == ["x", "y"]
