"""Crisis-sign detection: normaliser, lexicon linter, detector policy, CLI.

The held-out examples in tests/data/crisis_heldout.tsv were written for this repository
(they are not the shared dev set); the shared data is never read here.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from flows.crisis import CrisisDetector, Detection, check_lines, lint_lexicon, load_detector
from flows.crisis.command import main as crisis_check_main
from flows.crisis.text import clean_word, collapse, family, prepare, split_clauses
from flows.problems import ContentError, Problem

ROOT = Path(__file__).resolve().parents[1]
LEXICON = ROOT / "content" / "id" / "crisis" / "lexicon.yaml"
HELDOUT = Path(__file__).parent / "data" / "crisis_heldout.tsv"


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return load_detector(LEXICON)


def words(text: str) -> list[str]:
    return [w for clause in split_clauses(prepare(text)) for raw in clause for w in clean_word(raw)]


# ------------------------------------------------------------------ normaliser


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("matiii ajaaa", ["mati", "aja"]),
        ("b u n u h diri", ["bunuh", "diri"]),
        ("b-u-n-u-h diri", ["bunuh", "diri"]),
        ("m.a.t.i", ["mati"]),
        ("m4t1", ["mati"]),
        ("Aku INGIN", ["aku", "ingin"]),
        ("luka-in", ["lukain"]),
        ("self-harm", ["self", "harm"]),
        ("luka-luka", ["luka", "luka"]),
        ("mati-matian", ["mati~matian"]),
        ("mati2an", ["mati~matian"]),
        ("don't", ["dont"]),
        ("pengen... mati", ["pengen", "mati"]),
        ("hahahaha wkwkwkwk ahahah hihihi", ["haha", "wkwk", "haha", "hihi"]),
        ("hah wkw", ["hah", "wkw"]),
    ],
)
def test_normaliser(typed: str, expected: list[str]) -> None:
    assert words(typed) == expected


def test_sentences_and_clauses_are_cut_at_punctuation() -> None:
    assert split_clauses(prepare("capek. pengen mati, serius!")) == [
        ["capek"],
        ["pengen", "mati"],
        ["serius"],
    ]


@pytest.mark.parametrize(
    ("base", "form"),
    [
        ("bunuh", "membunuh"),
        ("bunuh", "dibunuh"),
        ("bunuh", "ngebunuh"),
        ("bunuh", "pembunuhan"),
        ("sayat", "menyayat"),
        ("sayat", "nyayat"),
        ("sayat", "sayatan"),
        ("sakit", "menyakiti"),
        ("sakit", "nyakitin"),
        ("pukul", "mukul"),
        ("pukul", "memukuli"),
        ("tusuk", "nusuk"),
        ("cekik", "nyekik"),
        ("gantung", "menggantung"),
        ("hilang", "ngilang"),
        ("akhiri", "mengakhiri"),
        ("akhiri", "ngakhirin"),
        ("mati", "kematian"),
    ],
)
def test_family_contains_affixed_forms(base: str, form: str) -> None:
    assert collapse(form) in family(collapse(base))


def test_family_leaves_out_ter_and_accidental_ke() -> None:
    assert "tergantung" not in family("gantung")
    assert "keiris" not in family("iris")


# ------------------------------------------------------------------ the shipped lexicon


def test_shipped_lexicon_has_no_problems() -> None:
    assert [str(p) for p in lint_lexicon(LEXICON)] == []


def read_heldout() -> list[tuple[str, str, str]]:
    with HELDOUT.open(encoding="utf-8", newline="") as handle:
        rows = [
            r
            for r in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            if r and not r[0].startswith("#") and r[0] != "label"
        ]
    return [(r[0], r[1], r[2]) for r in rows]


def test_heldout_recall_and_false_alarms(detector: CrisisDetector) -> None:
    rows = read_heldout()
    crisis = [text for label, _c, text in rows if label == "1"]
    ordinary = [text for label, _c, text in rows if label == "0"]
    hard = [text for label, _c, text in rows if label == "H"]
    assert len(crisis) > 200 and len(ordinary) > 200 and len(hard) > 30
    missed = [t for t in crisis if detector.detect(t) is None]
    alarms = [t for t in ordinary if detector.detect(t) is not None]
    hard_alarms = [t for t in hard if detector.detect(t) is not None]
    assert len(missed) / len(crisis) <= 0.03, missed
    assert len(alarms) / len(ordinary) <= 0.05, alarms
    assert len(hard_alarms) / len(hard) <= 0.05, hard_alarms


def test_heldout_categories_mostly_agree(detector: CrisisDetector) -> None:
    rows = [(c, t) for label, c, t in read_heldout() if label == "1"]
    found = [(c, detector.detect(t)) for c, t in rows]
    agree = sum(1 for c, d in found if d and d.category == c)
    assert agree / len(rows) >= 0.85


@pytest.mark.parametrize(
    "text",
    [
        "mati lampu lagi",
        "listrik mati dari pagi",
        "bosan, mati gaya",
        "aku mati kutu",
        "NKRI harga mati",
        "semprot nyamuk biar mati",
        "sabun ini membunuh kuman",
        "bunuh nyamuk dulu",
        "dia berjuang mati-matian",
        "mati aku, lupa bawa payung",
        "mati aku, telat lagi",
        "laptopku mati",
        "hp aku mau mati, batrenya habis",
        "kucingku mati",
        "gemes banget sampai mau mati",
        "aku ngakak sampai mati",
        "rapat pukul 10",
        "itu tergantung diri kita sendiri",
        "jangan menggantungkan diri pada orang lain",
        "aku pengen menghilangkan stres",
        "tanganku keiris pisau waktu masak",
    ],
)
def test_idioms_do_not_fire(detector: CrisisDetector, text: str) -> None:
    assert detector.detect(text) is None


def test_idiom_masks_only_its_own_words(detector: CrisisDetector) -> None:
    found = detector.detect("listrik mati, rasanya pengen mati aja")
    assert found is not None and found.category == "suicide"


@pytest.mark.parametrize(
    "text",
    [
        "aku tidak ada keinginan untuk mati",
        "aku gak pernah kepikiran bunuh diri",
        "aku nggak mau bunuh diri kok",
        "aku bukan mau bunuh diri, cuma capek",
        "aku janji tidak akan menyakiti diri sendiri",
        "I don't want to kill myself",
    ],
)
def test_negation_does_not_fire(detector: CrisisDetector, text: str) -> None:
    assert detector.detect(text) is None


def test_purpose_word_before_negation_still_counts(detector: CrisisDetector) -> None:
    assert detector.detect("gimana biar ga kepikiran bunuh diri terus") is not None


def test_phrases_that_contain_a_negation_fire(detector: CrisisDetector) -> None:
    found = detector.detect("aku udah gak mau hidup lagi")
    assert found is not None and found.category == "suicide"


@pytest.mark.parametrize(
    "text",
    [
        "artikel tentang pencegahan bunuh diri",
        "bagaimana mengenali tanda bunuh diri pada remaja?",
        "apa itu self harm?",
        "seminar pencegahan kekerasan seksual",
        "berita: seorang pria bunuh diri di apartemen",
    ],
)
def test_talk_about_the_topic_is_not_a_crisis(detector: CrisisDetector, text: str) -> None:
    assert detector.detect(text) is None


def test_own_words_after_reading_about_it_still_count(detector: CrisisDetector) -> None:
    assert detector.detect("aku baca artikel itu dan aku jadi pengen mati") is not None


def test_someone_else_at_risk_is_check_with_subject_other(detector: CrisisDetector) -> None:
    found = detector.detect("temanku mau bunuh diri")
    assert found == Detection("check", "suicide", found.matched, "other")
    assert detector.detect("aku mau bunuh diri").subject == "self"
    assert detector.detect("temen gw bilang dia pengen mati").subject == "other"


def test_someone_else_in_immediate_danger_stays_urgent(detector: CrisisDetector) -> None:
    found = detector.detect("temanku sudah minum racun")
    assert found is not None and found.level == "urgent" and found.subject == "other"


def test_danger_from_someone_else_keeps_its_level(detector: CrisisDetector) -> None:
    # a rampage with a weapon is violence happening now; told with voices, delusions or
    # a stopped medication it is psychosis, at the same level
    found = detector.detect("kakak saya mengamuk membawa golok")
    assert found is not None and (found.level, found.category) == ("urgent", "violence")
    found = detector.detect("kakak saya kumat, putus obat, mengamuk membawa golok")
    assert found is not None and (found.level, found.category) == ("urgent", "psychosis")
    found = detector.detect("adikku ngamuk bawa parang, teriak2 ada setan")
    assert found is not None and (found.level, found.category) == ("urgent", "psychosis")
    # a threat to the resident stays abuse, also when its words sound like a delusion
    found = detector.detect("suamiku mau membunuhku")
    assert found is not None and found.category == "abuse"


@pytest.mark.parametrize(
    ("text", "level", "category"),
    [
        ("capek hidup", "check", "suicide"),
        ("pengen mati aja", "check", "suicide"),
        ("aku ingin bunuh diri", "high", "suicide"),
        ("aku mau bunuh diri malam ini", "urgent", "suicide"),
        ("ini pesan terakhirku untuk kalian", "urgent", "suicide"),
        ("aku mau minum racun", "urgent", "suicide"),
        ("aku menyayat lenganku", "high", "self_harm"),
        ("aku menelan banyak pil tadi", "urgent", "self_harm"),
        ("aku pengen membunuh tetanggaku", "high", "violence"),
        ("aku dipukul suami", "high", "abuse"),
        ("suamiku mau membunuhku", "urgent", "abuse"),
        # told what was done, the resident means to hurt back: violence, not abuse
        ("orang itu udah mukulin adikku, besok aku mau bunuh dia", "urgent", "violence"),
        ("suamiku ngancam mau bunuh aku", "urgent", "abuse"),
        ("ada suara yang nyuruh aku", "high", "psychosis"),
    ],
)
def test_levels_and_categories(
    detector: CrisisDetector, text: str, level: str, category: str
) -> None:
    found = detector.detect(text)
    assert found is not None
    assert (found.level, found.category) == (level, category)


def test_most_specific_category_wins_at_the_same_level(detector: CrisisDetector) -> None:
    # self-harm words inside a command hallucination: psychosis explains them
    found = detector.detect("ada bisikan yang menyuruhku menyakiti diri")
    assert found is not None and found.category == "psychosis"
    assert "<lukai> diri" in found.matched


def test_highest_level_wins(detector: CrisisDetector) -> None:
    found = detector.detect("capek hidup. aku sudah minum racun tikus")
    assert found is not None and found.level == "urgent"


def test_slang_english_and_regional_words(detector: CrisisDetector) -> None:
    for text in [
        "gw mau bundir",
        "kms",
        "lagi suicidal",
        "pengen unalive",
        "i wanna die",
        "hoyong maot",
        "wis ora kuat",
        "aku sh lagi",
        "pgn mti"[:-3] + "mati",
    ]:
        assert detector.detect(text) is not None, text


def test_detection_is_frozen_and_names_lexicon_phrases(detector: CrisisDetector) -> None:
    found = detector.detect("pengen matiii")
    assert found is not None
    assert found.matched == ("pengen mati",)  # lexicon phrases, never the resident's words
    with pytest.raises(FrozenInstanceError):
        found.level = "high"  # type: ignore[misc]


def test_empty_and_unusual_input(detector: CrisisDetector) -> None:
    for text in ["", "   ", "😭😭", "!!!", "12345", "a" * 5000]:
        assert detector.detect(text) is None


# ------------------------------------------------------------------ check_lines and the CLI


def test_check_lines_shape(detector: CrisisDetector) -> None:
    results = list(check_lines(detector, ["pengen mati aja\n", "halo\r\n"]))
    assert results[0] == {
        "text": "pengen mati aja",
        "crisis": True,
        "level": "check",
        "category": "suicide",
        "matched": ["pengen mati", "mati aja"],
    }
    assert results[1] == {
        "text": "halo",
        "crisis": False,
        "level": None,
        "category": None,
        "matched": [],
    }


def test_crisis_check_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("aku dipukul suami\n\nlistrik mati\n"))
    assert crisis_check_main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    results = [json.loads(line) for line in lines]
    assert [r["crisis"] for r in results] == [True, False, False]
    assert results[0]["category"] == "abuse"


def test_crisis_check_can_leave_the_classifier_out(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An editor sees what the phrases alone say of a message the classifier set aside."""
    question = "beta guru, mau tanya bagimana bantu ana murid yang bilang mau mati\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(question))
    assert crisis_check_main([]) == 0
    assert json.loads(capsys.readouterr().out)["crisis"] is False
    monkeypatch.setattr(sys, "stdin", io.StringIO(question))
    assert crisis_check_main(["--signals", "lexicon,cues"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["crisis"] is True and result["matched"]
    with pytest.raises(SystemExit):
        crisis_check_main(["--signals", "lexicon,vibes"])


def test_crisis_check_main_reports_a_broken_lexicon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "lexicon.yaml"
    bad.write_text("crisis:\n  suicid:\n    high: [bunuh diri]\n", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO("x\n"))
    assert crisis_check_main(["--lexicon", str(bad)]) == 2
    assert "suicid" in capsys.readouterr().err


# ------------------------------------------------------------------ the linter


MINIMAL = """\
crisis:
  suicide:
    check:
      - pengen mati
synonyms:
  - [pengen, ingin, mau]
abbreviations:
  pgn: pengen
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "lexicon.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_editor_adds_plain_words_and_variants_match(tmp_path: Path) -> None:
    detector = load_detector(write(tmp_path, MINIMAL))
    for text in ["pgn matiii", "aku ingin mati", "mau m4t1", "p e n g e n mati"]:
        assert detector.detect(text) is not None, text
    assert detector.detect("pengen makan") is None


def test_gap_syntax_for_editors(tmp_path: Path) -> None:
    text = (
        "crisis:\n  suicide:\n    check: [bunuh_aku]\n"
        "not_crisis: [hp ... mati, mati rasa]\n"
        "synonyms:\n  - [mati, die]\n  - [bunuh, kill]\n  - [aku, me]\n"
    )
    detector = load_detector(write(tmp_path, text))
    assert detector.detect("kill me please") is not None
    assert detector.detect("dia membunuh anaknya bikin aku sedih") is None  # not side by side


def problems_for(tmp_path: Path, text: str | bytes) -> list[Problem]:
    return lint_lexicon(write(tmp_path, text))


def test_yaml_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    found = problems_for(tmp_path, "crisis:\n  suicide:\n    high: [bunuh diri\n  x: y\n")
    assert len(found) == 1 and found[0].severity == "error" and found[0].line
    assert found[0].file.endswith("lexicon.yaml") and found[0].hint


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("crisis:\n  suicid:\n    high: [bunuh diri]\n", 2, ["suicid", "suicide"]),
        ("crisis:\n  suicide:\n    hihg: [bunuh diri]\n", 3, ["hihg", "high"]),
        ("crisis:\n  suicide:\n    high:\n      - \n", 4, ["Empty"]),
        ("crisis:\n  suicide:\n    high:\n      - pukul <orng>\n", 4, ["<orng>"]),
        ("crisis:\n  suicide:\n    high:\n      - mati, aja\n", 4, ["punctuation"]),
        ("crisis:\n  suicide:\n    high:\n      - mati ...\n", 4, ["..."]),
        ("crisis:\n  suicide:\n    high:\n      - a +\n", 4, ["empty part"]),
        ("crisis:\n  suicide:\n    high: [mati]\nsynonyms:\n  - [mati]\n", 5, ["two words"]),
        (
            "crisis:\n  suicide:\n    high: [mati]\nsynonyms:\n  - [a, b]\n  - [b, c]\n",
            6,
            ["another set"],
        ),
        (
            "crisis:\n  suicide:\n    high: [mati]\ngroups:\n  orang: [dia, orang tua]\n",
            5,
            ["single word"],
        ),
        ("crisis:\n  suicide:\n    high: [mati]\nnot_crisis: [mati]\n", 4, ["both"]),
        ("crisis:\n  suicide:\n    high: [mati]\nkontext: {}\n", 4, ["kontext"]),
        ("crisis:\n  suicide:\n    high: [mati]\n  suicide:\n    check: [x]\n", 4, ["twice"]),
        (
            "crisis:\n  suicide:\n    high: [mati]\ncontext:\n  self: [aku saya]\n",
            5,
            ["single word"],
        ),
    ],
)
def test_linter_names_line_problem_and_fix(
    tmp_path: Path, text: str, line: int, words: list[str]
) -> None:
    found = problems_for(tmp_path, text)
    assert found, "expected a problem"
    problem = next(p for p in found if p.line == line)
    for word in words:
        assert word in problem.message or word in problem.hint, str(problem)
    assert problem.hint


def test_duplicate_phrase_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "crisis:\n  suicide:\n    high: [mati aja, matiii aja]\n")
    found = lint_lexicon(path)
    assert [p.severity for p in found] == ["warning"]
    load_detector(path)  # warnings do not stop loading


@pytest.mark.parametrize(
    "text",
    [
        b"\xff\xfe\x00garbage",
        "",
        "- just a list\n",
        "crisis: 3\n",
        "\tcrisis:\n",
        "crisis:\n  suicide: [mati]\n",
        "synonyms: {a: b}\ncrisis: {}\n",
        "crisis: !!python/x 1\n",
    ],
)
def test_linter_never_raises(tmp_path: Path, text: str | bytes) -> None:
    found = lint_lexicon(write(tmp_path, text))
    assert found and all(isinstance(p, Problem) for p in found)
    assert any(p.severity == "error" for p in found)


def test_missing_file(tmp_path: Path) -> None:
    found = lint_lexicon(tmp_path / "nope.yaml")
    assert len(found) == 1 and "does not exist" in found[0].message


def test_load_detector_raises_with_every_error(tmp_path: Path) -> None:
    path = write(tmp_path, "crisis:\n  suicid: {}\n  selfharm: {}\n")
    with pytest.raises(ContentError) as info:
        load_detector(path)
    assert len(info.value.problems) == 2


# ------------------------------------------------------------------ generalisation rules


ROUNDS = sorted(HELDOUT.parent.glob("crisis_round_*.tsv"))


def read_rounds() -> list[tuple[str, str, str]]:
    rows = []
    for path in ROUNDS:
        with path.open(encoding="utf-8", newline="") as handle:
            rows += [
                (r[0], r[1], r[2])
                for r in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
                if r and not r[0].startswith("#") and r[0] != "label"
            ]
    return rows


def test_fresh_rounds_recall_and_false_alarms(detector: CrisisDetector) -> None:
    """Batches written before each round of fixes (tests/data/crisis_round_*.tsv)."""
    rows = read_rounds()
    crisis = [text for label, _c, text in rows if label == "1"]
    calm = [text for label, _c, text in rows if label != "1"]
    assert ROUNDS and len(crisis) >= 100
    missed = [t for t in crisis if detector.detect(t) is None]
    alarms = [t for t in calm if detector.detect(t) is not None]
    assert len(missed) / len(crisis) <= 0.03, missed
    assert len(alarms) / len(calm) <= 0.05, alarms


@pytest.mark.parametrize(
    "text",
    [
        "dulu aku pernah pengen bunuh diri, tapi sekarang udah jauh lebih baik",
        "dia dulu sering dipukul ayahnya, sekarang udah jadi polisi",
        "di game tadi aku bunuh bosnya",
        "guru BK ngajarin cara mencegah bunuh diri",
        "adikku nanya apa artinya kms",
        "kucing tetangga dipukul orang, kasian",
        "surat terakhir dari kampus udah aku terima",
        "minum 2 butir paracetamol",
    ],
)
def test_past_recovered_games_and_topic_words_inside(detector: CrisisDetector, text: str) -> None:
    assert detector.detect(text) is None


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("dulu aku pernah nyoba bunuh diri", "high"),  # past without recovery still counts
        ("kalau gak nyakitin diri aku gak tenang", "high"),  # a condition, not a denial
        ("aku udah nelen 20 butir paracetamol", "urgent"),
        ("aku udah nelen 100 butir obat", "urgent"),
        ("lagi main game, pengen bunuh diri aja", "high"),  # games only silence violence
    ],
)
def test_past_condition_and_big_numbers(detector: CrisisDetector, text: str, level: str) -> None:
    found = detector.detect(text)
    assert found is not None and found.level == level, found


def test_negation_of_other_words_does_not_stop_a_phrase(detector: CrisisDetector) -> None:
    found = detector.detect("majikan saya tidak bayar gaji dan memukul saya")
    assert found is not None and found.category == "abuse"
    assert detector.detect("aku pengen gak mati") is None


def test_side_by_side_syntax_takes_groups(tmp_path: Path) -> None:
    text = (
        "crisis:\n  violence:\n    high: [aku_<bunuh_berat>]\n"
        "groups:\n  bunuh_berat: [tikam, bacok]\n"
    )
    detector = load_detector(write(tmp_path, text))
    assert detector.detect("kalau dia datang lagi, aku tikam") is not None
    assert detector.detect("aku mau tikam") is None


@pytest.mark.parametrize(
    ("typed", "category"),
    [
        ("mau b*nuh diri", "suicide"),
        ("pengen bvnvh diri", "suicide"),
        ("b*ndir aja", "suicide"),
        ("aku pamit ya ma, maafin semua salahku", "suicide"),
        ("aku udah bagi2in barang2ku, udah gak butuh lagi", "suicide"),
    ],
)
def test_censored_spellings_and_reduplicated_nouns(
    detector: CrisisDetector, typed: str, category: str
) -> None:
    found = detector.detect(typed)
    assert found is not None and found.category == category


def test_reduplication_with_a_pronoun_keeps_the_noun() -> None:
    assert words("barang2ku") == ["barang", "barangku"]
    assert words("mati2an") == ["mati~matian"]


def test_vowelless_typing_reads_as_the_lexicon_word(detector: CrisisDetector) -> None:
    assert detector.tokens("bunh dri") == [["bunuh", "diri"]]
    assert detector.tokens("hdup") == [["hidup"]]
    assert detector.tokens("suaraku serak habis nyanyi")[0][2:4] == ["serak", "habis"]


@pytest.mark.parametrize(
    "text", ["aku ngaku aku pengen mati", "jujur aku ngaku udah nyilet tangan lagi"]
)
def test_a_negation_takes_no_ku(detector: CrisisDetector, text: str) -> None:
    """ "ngaku" (to confess) is not "ngak" (nggak) + -ku: it denies nothing."""
    assert detector.detect(text) is not None
    assert detector.detect("aku ngak pengen mati kok") is None


def test_violent_verb_turned_on_oneself_is_not_violence(detector: CrisisDetector) -> None:
    found = detector.detect("aku mau bunuh diri")
    assert found is not None and found.category == "suicide"
    found = detector.detect("aku akan membalas dengan membunuhnya")
    assert found is not None and found.category == "violence"


def test_end_of_clause_syntax(tmp_path: Path) -> None:
    text = "crisis:\n  suicide:\n    check: [selamat tinggal $]\ncontext:\n  trailing: [ya]\n"
    detector = load_detector(write(tmp_path, text))
    assert detector.detect("maaf. selamat tinggal ya") is not None
    assert detector.detect("selamat tinggal kebiasaan buruk") is None
    found = problems_for(tmp_path, "crisis:\n  suicide:\n    check: [selamat $ tinggal]\n")
    assert found and found[0].line == 3


def test_possessive_ku_does_not_start_an_aku_phrase(detector: CrisisDetector) -> None:
    found = detector.detect("temenku cerita soal self harm, aku harus gimana?")
    assert found is None
    found = detector.detect("suamiku memukulku")
    assert found is not None and found.category == "abuse"


@pytest.mark.parametrize(
    "text",
    [
        "kakakku pukul aku pake bantal pas bercanda",
        "temen aku ngerjain aku, aku dikunci di kamar mandi sebentar wkwk",
        "tim aku dibantai 5-0",
    ],
)
def test_jokes_and_sports_silence_violence_and_abuse(detector: CrisisDetector, text: str) -> None:
    assert detector.detect(text) is None


def test_jokes_do_not_silence_suicide(detector: CrisisDetector) -> None:
    assert detector.detect("pengen mati wkwk tapi serius") is not None
