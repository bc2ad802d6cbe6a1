"""The crisis material as one set of files, the cue scorer, regional morphology, the
classifier, and the evaluation script.

Each test writes its own small crisis folder under tmp_path, so what it checks is the
mechanism, not the shipped word lists (those are covered by test_crisis_languages.py).
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from flows.crisis import (
    crisis_files,
    lint_crisis,
    lint_lexicon,
    load_crisis,
    load_detector,
)
from flows.crisis.classifier import BIAS, Classifier, features, train_heads, write_weights
from flows.crisis.detector import MODEL_OVERRULES
from flows.crisis.text import family
from flows.crisis.train import TRAINING_DATA, training_sources
from flows.linter import lint_directory
from flows.problems import ContentError

ROOT = Path(__file__).resolve().parents[1]
BATCHES = ROOT / "tests" / "data"

LEXICON = """\
crisis:
  suicide:
    check:
      - pengen mati
synonyms:
  - [pengen, ingin, mau]
  - [mati, die]
  - [tidak, gak]
  - [aku, saya]
context:
  negation: [tidak]
  self: [aku]
  info: [berita]
"""

CUES = """\
cues:
  means: [racun, tali]
  prepare: [beli, taruh]
  time: [malam ini, besok]
  ordinary: [buat tikus]
cue_scores:
  suicide:
    threshold: 3
    needs: [means]
    weights:
      means: 2
      prepare: 1
      time: 1
      ordinary: -2.5
"""


def crisis_folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "content" / "crisis"
    folder.mkdir(parents=True, exist_ok=True)
    files.setdefault("lexicon", LEXICON)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


# ------------------------------------------------------------------ one set of files


def test_files_are_read_lexicon_first(tmp_path: Path) -> None:
    folder = crisis_folder(tmp_path, cues=CUES, zz="synonyms: [[mati, mate]]\n")
    names = [p.name for p in crisis_files(folder)]
    assert names == ["lexicon.yaml", "cues.yaml", "zz.yaml"]
    # the content folder, the crisis folder and lexicon.yaml all stand for the whole set
    assert crisis_files(folder.parent) == crisis_files(folder)
    assert crisis_files(folder / "lexicon.yaml") == crisis_files(folder)
    alone = tmp_path / "experiment.yaml"
    alone.write_text(LEXICON, encoding="utf-8")
    assert crisis_files(alone) == [alone]


def test_a_regional_set_joins_the_lexicon_set_of_its_first_word(tmp_path: Path) -> None:
    folder = crisis_folder(tmp_path, jawa="synonyms:\n  - [mati, pejah]\n  - [pengen, kepengin]\n")
    detector = load_detector(folder)
    assert detector.detect("kepengin pejah") is not None
    assert detector.detect("aku gak ingin pejah") is None  # negation works for it too


def test_load_crisis_takes_the_content_folder(tmp_path: Path) -> None:
    folder = crisis_folder(tmp_path, jawa="synonyms:\n  - [mati, pejah]\n")
    assert load_crisis(folder.parent).detect("pengen pejah") is not None
    with pytest.raises(ContentError) as info:
        load_crisis(tmp_path / "nowhere")
    assert "crisis" in info.value.problems[0].file


def test_a_broken_regional_file_names_its_file_and_line(tmp_path: Path) -> None:
    folder = crisis_folder(tmp_path, sunda="synonyms:\n  - [mati, paeh]\ncrisis:\n  suicid: {}\n")
    with pytest.raises(ContentError) as info:
        load_crisis(folder.parent)
    (problem,) = info.value.problems
    assert problem.file.endswith("sunda.yaml") and problem.line == 4
    assert "suicide" in problem.message  # did you mean
    assert [p.file for p in lint_crisis(folder.parent)] == [problem.file]


def test_a_word_in_two_sets_across_files_needs_a_plus(tmp_path: Path) -> None:
    folder = crisis_folder(tmp_path, bugis="synonyms:\n  - [pengen, elo]\n")
    lexicon = LEXICON.replace("  - [aku, saya]", "  - [aku, saya]\n  - [kamu, elo]")
    (folder / "lexicon.yaml").write_text(lexicon, encoding="utf-8")
    problems = [p for p in lint_lexicon(folder) if p.severity == "error"]
    assert len(problems) == 1 and problems[0].file.endswith("bugis.yaml")
    assert "+elo" in problems[0].hint
    (folder / "bugis.yaml").write_text("synonyms:\n  - [pengen, +elo]\n", encoding="utf-8")
    assert lint_lexicon(folder) == []
    assert load_detector(folder).detect("elo mati") is not None  # elo = pengen too


def test_regional_groups_and_context_lists_add_to_the_lexicon(tmp_path: Path) -> None:
    lexicon = LEXICON.replace("      - pengen mati\n", "      - pengen mati\n      - <racun>\n")
    lexicon += "groups:\n  racun: [baygon]\n"
    folder = crisis_folder(
        tmp_path,
        lexicon=lexicon,
        bali="groups:\n  racun: [bayclin]\ncontext:\n  negation: [nenten]\n",
    )
    detector = load_detector(folder)
    assert detector.detect("bayclin") is not None
    assert detector.detect("nenten pengen mati") is None


def test_abbreviations_must_agree_across_files(tmp_path: Path) -> None:
    folder = crisis_folder(
        tmp_path,
        lexicon=LEXICON + "abbreviations:\n  pgn: pengen\n",
        other="abbreviations:\n  pgn: pergi\n",
    )
    (problem,) = lint_lexicon(folder)
    assert problem.file.endswith("other.yaml") and "lexicon.yaml:" in problem.message


def test_the_content_linter_checks_every_crisis_file(tmp_path: Path) -> None:
    content = ROOT / "tests" / "fixtures" / "content"
    target = tmp_path / "content"
    subprocess.run(["cp", "-r", str(content), str(target)], check=True)
    crisis = target / "crisis"
    crisis.mkdir(exist_ok=True)
    (crisis / "lexicon.yaml").write_text(LEXICON, encoding="utf-8")
    (crisis / "madura.yaml").write_text("groups:\n  orang: [<oreng>]\n", encoding="utf-8")
    found = [p for p in lint_directory(target) if p.file.endswith("madura.yaml")]
    assert found and found[0].line == 2


# ------------------------------------------------------------------ the cue scorer


def test_cues_add_up_to_a_check(tmp_path: Path) -> None:
    detector = load_detector(crisis_folder(tmp_path, cues=CUES))
    found = detector.detect("racun sudah aku taruh di tas, malam ini")
    assert found is not None
    assert (found.level, found.category) == ("check", "suicide")
    assert found.matched == ("cue means: racun", "cue prepare: taruh", "cue time: malam ini")


def test_one_cue_is_not_enough_and_needs_must_be_present(tmp_path: Path) -> None:
    detector = load_detector(crisis_folder(tmp_path, cues=CUES))
    assert detector.detect("racun") is None  # 2 < 3
    assert detector.detect("beli sepatu besok") is None  # 2, and no means
    assert detector.detect("beli tali besok") is not None  # 4


def test_a_negative_class_lowers_the_score(tmp_path: Path) -> None:
    detector = load_detector(crisis_folder(tmp_path, cues=CUES))
    assert detector.detect("beli racun buat tikus besok") is None  # 4 - 2.5


def test_a_negated_cue_and_a_topic_cue_do_not_count(tmp_path: Path) -> None:
    detector = load_detector(crisis_folder(tmp_path, cues=CUES))
    assert detector.detect("aku tidak beli racun besok") is not None  # "tidak beli": 3
    assert detector.detect("tidak beli racun, tidak besok") is None  # 2
    assert detector.detect("berita racun dan tali besok") is None  # talk about the topic


def test_a_class_counts_once_and_a_word_for_one_class(tmp_path: Path) -> None:
    cues = CUES.replace("  time: [malam ini, besok]", "  time: [malam ini, besok, racun]")
    detector = load_detector(crisis_folder(tmp_path, cues=cues))
    assert detector.detect("racun tali") is None  # means twice is still 2
    assert detector.detect("racun besok") is not None  # racun = means, besok = time


SHARED_WORD_CUES = """\
cues:
  delusion: [dipilih, tuhan + ngomong]
  disorganized: [ngomong sendiri]
cue_scores:
  psychosis:
    threshold: 3
    needs: [delusion]
    weights:
      delusion: 1.5
      disorganized: 1.5
"""


def test_a_class_gives_up_a_shared_word_when_another_of_its_phrases_is_there(
    tmp_path: Path,
) -> None:
    """Each word counts for one class, but a class that found two phrases does not keep the
    one whose word another class needs: "ngomong" goes to "ngomong sendiri", delusion keeps
    "dipilih"."""
    detector = load_detector(crisis_folder(tmp_path, cues=SHARED_WORD_CUES))
    found = detector.detect("dia ngomong sendiri terus, katanya dipilih tuhan")
    assert found is not None and found.category == "psychosis", found
    assert "cue disorganized: ngomong sendiri" in found.matched
    assert "cue delusion: dipilih" in found.matched
    # with one delusion phrase only, the word stays with it and the message is short of 3
    assert detector.detect("dia ngomong sendiri terus, katanya tuhan") is None


def test_cues_far_apart_in_a_long_message_do_not_add_up(tmp_path: Path) -> None:
    detector = load_detector(crisis_folder(tmp_path, cues=CUES))
    near = "halo. racun sudah aku beli. besok."
    far = "racun. satu. dua. tiga. besok aku beli sepatu."
    assert detector.detect(near) is not None
    assert detector.detect(far) is None


@pytest.mark.parametrize(
    ("cues", "line", "words"),
    [
        (CUES.replace("      time: 1\n", "      tiem: 1\n"), 13, ["tiem", "time"]),
        (CUES.replace("threshold: 3", "threshold: lots"), 8, ["threshold"]),
        (CUES.replace("needs: [means]", "needs: [mean]"), 9, ["mean"]),
        (CUES.replace("      prepare: 1\n", "      prepare: high\n"), 12, ["prepare"]),
        (CUES.replace("cue_scores:\n  suicide:", "cue_scores:\n  suicid:"), 7, ["suicide"]),
    ],
)
def test_cue_score_mistakes_name_file_and_line(
    tmp_path: Path, cues: str, line: int, words: list[str]
) -> None:
    problems = lint_lexicon(crisis_folder(tmp_path, cues=cues))
    problem = next(p for p in problems if p.line == line)
    assert problem.file.endswith("cues.yaml")
    for word in words:
        assert word in problem.message + problem.hint


def test_the_shipped_cue_scorer_catches_what_a_message_does() -> None:
    detector = load_crisis(ROOT / "content" / "id")
    found = detector.detect("racun tikus di gudang udah aku ambil, aku taruh di tas")
    assert found is not None and found.level == "check"
    assert any(m.startswith("cue means:") for m in found.matched)
    assert detector.detect("beli racun tikus buat gudang beras, tikusnya udah gede") is None


# ------------------------------------------------------------------ languages and words


def test_language_markers_switch_off_a_negation(tmp_path: Path) -> None:
    jawa = (
        "language:\n  name: Jawa\n  markers: [wis, arep]\n  not_negation: [tak]\n"
        "synonyms:\n  - [tidak, tak]\n  - [minum, ombe]\n"
    )
    lexicon = LEXICON.replace("      - pengen mati\n", "      - minum racun\n")
    detector = load_detector(crisis_folder(tmp_path, lexicon=lexicon, jawa=jawa))
    assert detector.detect("wis arep tak ombe racun") is not None  # Javanese: "I drink"
    assert detector.detect("tak ombe racun") is None  # no markers: "do not drink"


def test_a_language_s_own_words_and_affixes(tmp_path: Path) -> None:
    bugis = (
        "language:\n  name: Bugis\n  markers: [ri, engka, pura]\n"
        "  words:\n    - [tangan, lima]\n    - [aku, =iyya]\n"
        "  prefixes: [na, ku]\n  suffixes: [ka, ki]\n"
        "synonyms:\n  - [mati, mate]\n"
    )
    lexicon = LEXICON.replace("      - pengen mati\n", "      - sayat tangan\n      - iyya mati\n")
    detector = load_detector(crisis_folder(tmp_path, lexicon=lexicon, bugis=bugis))
    assert detector.detect("pura ku sayat limaku ri wenni") is not None  # lima = tangan
    assert detector.detect("aku sayat lima buah apel") is None  # not a Bugis message
    # an unknown word is read without the language's affixes: na- + sayat
    assert detector.detect("pura nasayat limana ri bola") is not None
    assert detector.detect("nasayat lima") is None  # no markers, no Bugis reading


def test_a_bad_affix_is_named_with_its_line(tmp_path: Path) -> None:
    bugis = "language:\n  name: Bugis\n  markers: [ri, engka]\n  prefixes: [na, ku-]\n"
    folder = crisis_folder(tmp_path, bugis=bugis)
    (problem,) = [p for p in lint_lexicon(folder) if p.severity == "error"]
    assert problem.file.endswith("bugis.yaml") and problem.line == 4
    assert "ku-" in problem.message and problem.hint


def test_a_message_is_read_as_the_language_it_has_most_markers_of(tmp_path: Path) -> None:
    jawa = "language:\n  name: Jawa\n  markers: [sing, nggih]\n  not_negation: [sing]\n"
    bali = (
        "language:\n  name: Bali\n  markers: [tiang, sube, sing, nggih]\n"
        "synonyms:\n  - [tidak, sing]\n  - [aku, tiang]\n  - [kuat, nyidaang]\n"
    )
    lexicon = LEXICON.replace("      - pengen mati\n", "      - aku tidak kuat\n")
    detector = load_detector(crisis_folder(tmp_path, lexicon=lexicon, jawa=jawa, bali=bali))
    # four Balinese markers against two Javanese: "sing" is Balinese "tidak"
    assert detector.detect("tiang sube sing nyidaang nggih") is not None


def test_regional_affixes() -> None:
    assert "ngagantung" in family("gantung")  # Sundanese nga-
    assert "kapikiran" in family("pikir")  # Sundanese ka-…-an
    assert "kapasung" in family("pasung")  # Balinese ka-
    assert "mambunuah" in family("bunuh")  # Minang
    assert "dipukua" in family("pukul")
    assert "nyelakake" in family("celaka")  # Javanese -ake
    assert "kadang" not in family("dang")  # short words take no regional prefixes
    assert "banyak" not in family("nyak")


def test_everyday_words_are_never_an_affixed_form(tmp_path: Path) -> None:
    lexicon = LEXICON.replace("      - pengen mati\n", "      - pengen mati\n      - loncat laut\n")
    lexicon = lexicon.replace("  - [aku, saya]", "  - [aku, saya]\n  - [laut, pasih]")
    lexicon = lexicon.replace("  info: [berita]", "  info: [berita]\n  common: [masih]")
    detector = load_detector(crisis_folder(tmp_path, lexicon=lexicon))
    assert detector.detect("loncat dipasih") is not None  # a form of pasih
    assert detector.detect("loncat masih") is None  # "masih" is an everyday word


def test_a_pronoun_takes_no_affixes(tmp_path: Path) -> None:
    lexicon = LEXICON.replace("  - [aku, saya]", "  - [aku, saya, urang]")
    lexicon = lexicon.replace("      - pengen mati\n", "      - pengen mati\n      - aku_mati\n")
    detector = load_detector(crisis_folder(tmp_path, lexicon=lexicon))
    assert detector.detect("urang mati") is not None
    assert detector.detect("kurang mati") is None  # not ku- + urang


def test_a_listed_form_with_ku_still_means_its_base(tmp_path: Path) -> None:
    cues = CUES.replace("  means: [racun, tali]", "  means: [racun, tali]\n  mine: [diriku]")
    lexicon = LEXICON.replace("      - pengen mati\n", "      - bunuh diri\n")
    detector = load_detector(crisis_folder(tmp_path, lexicon=lexicon, cues=cues))
    assert detector.detect("bunuh diriku") is not None


# ------------------------------------------------------------------ the classifier


def test_training_is_deterministic_and_the_model_explains() -> None:
    rows = [
        ("1", "suicide", ["w:racun", "i:<racun>", "w:aku"]),
        ("1", "abuse", ["w:majikan", "w:dikunci", "w:aku"]),
        ("0", "normal", ["w:makan", "w:aku"]),
        ("H", "hard", ["w:tidur", "w:malam"]),
    ] * 5
    first, second = train_heads(rows, ("suicide", "abuse")), train_heads(rows, ("suicide", "abuse"))
    assert first == second
    model = Classifier(first)
    risky, calm = model.score(["w:racun", "w:aku"]), model.score(["w:makan"])
    assert risky.probability > 0.5 > calm.probability
    assert risky.reasons[0] == "racun" and risky.category == "suicide"
    assert model.score(["w:majikan", "w:dikunci"]).category == "abuse"
    assert model.score(["w:racun", "w:aku"], quiet=frozenset({"w:racun"})).reasons[0] != "racun"


def test_unreadable_weights_switch_the_model_off(tmp_path: Path) -> None:
    weights = tmp_path / "weights.tsv"
    weights.write_text("w:racun\t1.0\n", encoding="utf-8")  # an old one-head file
    assert Classifier.load(weights) is None
    assert Classifier.load(tmp_path / "missing.tsv") is None


def test_classifier_features_use_the_detector_reading() -> None:
    found = features([["pengen", "pejah"]], [frozenset({"~pengen"}), frozenset({"~mati"})])
    assert {"w:pejah", "i:~mati", "b:pengen_pejah", "c:#pej"} <= set(found)


def test_classifier_features_hold_the_cue_classes(tmp_path: Path) -> None:
    detector = load_detector(crisis_folder(tmp_path, cues=CUES))
    found = detector.model_features("racun tikus udah aku taruh di tas")
    assert {"q:means", "q:prepare", "w:racun"} <= set(found)
    assert not any(f.startswith("q:") for f in detector.model_features("berita racun tikus"))
    rows = [("1", "suicide", ["q:means", "w:x"]), ("0", "normal", ["w:y"])] * 5
    model = Classifier(train_heads(rows, ("suicide",)))
    assert "cue means" in model.score(["q:means"]).reasons  # a cue class explains, too


def test_the_model_is_the_third_signal_and_minds_the_context() -> None:
    detector = load_crisis(ROOT / "content" / "id")
    assert detector.model is not None  # shipped weights, retrained by python -m flows.crisis.train
    assert detector.signals == ("lexicon", "cues", "model")
    for text in [
        "abdi mah teu hayang paeh, ngan hayang istirahat",  # negated: the lexicon saw it
        "ada berita tkw dianiaya majikan di saudi, pemerintah harusnya tegas",  # news
        "kalau ada warga yang bilang mau mati, saya harus bilang apa",  # hypothetical
    ]:
        message = detector._read(text)
        found = detector._all_candidates(set().union(*message.keys))
        assert detector.model_probability(message, found, None) is None, text


def test_a_model_verdict_is_a_check_that_names_its_reasons(tmp_path: Path) -> None:
    folder = crisis_folder(tmp_path)
    heads = train_heads(
        [("1", "suicide", ["w:ganti", "w:server"]), ("0", "normal", ["w:makan"])] * 20,
        ("suicide",),
    )
    write_weights(heads, folder / "model" / "weights.tsv", [])
    detector = load_detector(folder)
    found = detector.detect("ganti server")
    assert found is not None and found.level == "check"
    assert found.matched[0].startswith("model 0.") and "server" in found.matched[0]
    detector.signals = ("lexicon", "cues")
    assert detector.detect("ganti server") is None


OVERRULED_LEXICON = """\
crisis:
  suicide:
    urgent:
      - pengen mati + malam ini
    check:
      - pengen mati
synonyms:
  - [pengen, ingin, mau]
context:
  self: [aku]
  recovered: [sekarang sudah baik]
"""


def test_the_model_overrules_only_a_short_weak_phrase_reading(tmp_path: Path) -> None:
    """A classifier all but certain that a short message is no crisis sets aside a `check`
    or `high` phrase reading (a teacher's question); never an `urgent` one, a long message
    (a disclosure among ordinary words) or one told as past (it may have come back)."""
    folder = crisis_folder(tmp_path, lexicon=OVERRULED_LEXICON)
    # a classifier that has learnt "guru" to be a helper's word, by hand
    heads = {"crisis": {BIAS: 0.0, "w:mati": 4.0, "w:guru": -14.0}, "suicide": {BIAS: 1.0}}
    write_weights(heads, folder / "model" / "weights.tsv", [])
    detector = load_detector(folder)
    question = "guru tanya murid bilang pengen mati"
    assert Classifier.load(folder / "model" / "weights.tsv").probability(
        detector.model_features(question)
    ) < MODEL_OVERRULES
    assert detector.detect(question) is None
    detector.signals = ("lexicon", "cues")
    assert detector.detect(question) is not None  # the phrase alone still reads it
    detector.signals = ("lexicon", "cues", "model")
    urgent = detector.detect("guru tanya murid bilang pengen mati malam ini")
    assert urgent is not None and urgent.level == "urgent"
    long = "guru murid " * 15 + "aku pengen mati"
    assert detector.detect(long) is not None
    past = detector.detect("guru murid dulu aku pengen mati, sekarang sudah baik")
    assert past is not None  # the phrase rules, not the classifier, read the past here


OVERRULED_CUES = """\
cues:
  means: [tali]
  prepare: [beli]
  finality: [tidur selamanya]
cue_scores:
  suicide:
    threshold: 2
    weights:
      means: 1
      prepare: 1
      finality: 2
"""


def test_the_model_overrules_a_short_cue_reading_unless_it_states_an_ending(
    tmp_path: Path,
) -> None:
    """The cue scorer's `check` is set aside like a phrase reading ("beli tali jemuran" in
    a short message the classifier is sure of), except when a cue states a decision or an
    ending ("tidur selamanya"): those are asked about whatever the other words weigh."""
    folder = crisis_folder(tmp_path, lexicon=OVERRULED_LEXICON, cues=OVERRULED_CUES)
    heads = {"crisis": {BIAS: 0.0, "w:guru": -14.0}, "suicide": {BIAS: 1.0}}
    write_weights(heads, folder / "model" / "weights.tsv", [])
    detector = load_detector(folder)
    assert detector.detect("guru beli tali") is None
    found = detector.detect("aku beli tali")
    assert found is not None and found.matched[0].startswith("cue "), found
    detector.signals = ("lexicon", "cues")
    assert detector.detect("guru beli tali") is not None  # the cues alone still read it
    detector.signals = ("lexicon", "cues", "model")
    ending = detector.detect("guru tidur selamanya")
    assert ending is not None and "cue finality: tidur selamanya" in ending.matched
    assert detector.detect("guru " * 30 + "beli tali") is not None  # long: never overruled


def test_the_model_stays_quiet_on_a_self_harm_guess_with_only_an_ordinary_purpose(
    tmp_path: Path,
) -> None:
    """A cut named with a kitchen word (a self-harm `accident` cue) and no wound, body or
    tool at hand is not asked about on the classifier's word alone; the same words
    without the kitchen word are."""
    heads = train_heads(
        [("1", "self_harm", ["w:motong"]), ("0", "normal", ["w:makan"])] * 20, ("self_harm",)
    )
    quiet_folder = crisis_folder(tmp_path / "quiet", cues=SELF_HARM_CUES + QUIETS)
    write_weights(heads, quiet_folder / "model" / "weights.tsv", [])
    detector = load_detector(quiet_folder)
    found = detector.detect("lagi motong kayu")
    assert found is not None and found.category == "self_harm", found
    assert detector.detect("lagi motong bawang") is None
    assert detector.detect("lagi motong bawang, darah") is not None  # a wound: asked
    # without `quiets_classifier` the kitchen word only weighs against the cue score
    plain_folder = crisis_folder(tmp_path / "plain", cues=SELF_HARM_CUES)
    write_weights(heads, plain_folder / "model" / "weights.tsv", [])
    assert load_detector(plain_folder).detect("lagi motong bawang") is not None


SELF_HARM_CUES = (
    "cues:\n  wound: [darah]\n  accident: [bawang]\ncue_scores:\n  self_harm:\n"
    "    threshold: 3\n    needs: [wound]\n    weights:\n      wound: 2\n"
    "      accident: -2.5\n"
)
QUIETS = "    quiets_classifier: true\n"


def test_quiets_classifier_must_be_a_switch_on_a_rule_with_a_negative_class(
    tmp_path: Path,
) -> None:
    folder = crisis_folder(tmp_path / "word", cues=SELF_HARM_CUES + "    quiets_classifier: ya\n")
    (problem,) = [p for p in lint_lexicon(folder) if p.severity == "error"]
    assert "quiets_classifier" in problem.message and problem.line == 11
    no_negative = SELF_HARM_CUES.replace("      accident: -2.5\n", "") + QUIETS
    folder = crisis_folder(tmp_path / "positive", cues=no_negative)
    (problem,) = [p for p in lint_lexicon(folder) if p.severity == "error"]
    assert "negative" in problem.message, problem
    assert lint_lexicon(crisis_folder(tmp_path / "good", cues=SELF_HARM_CUES + QUIETS)) == []


# ------------------------------------------------------------------ measurement


def read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            r
            for r in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            if r and not r[0].startswith("#") and r[0] != "label"
        ]


@pytest.mark.parametrize(
    "path", sorted(BATCHES.glob("crisis_blind_round*.tsv")), ids=lambda p: p.stem
)
def test_blind_batches_after_their_fixes(path: Path) -> None:
    """Figures after development on a released blind batch (its before-figure is in the
    .before.txt beside it); fresh batches are measured before any change by the release
    step, not here."""
    detector = load_crisis(ROOT / "content" / "id")
    rows = read(path)
    crisis = [r[2] for r in rows if r[0] == "1"]
    ordinary = [r[2] for r in rows if r[0] == "0"]
    hard = [r[2] for r in rows if r[0] == "H"]
    missed = [t for t in crisis if detector.detect(t) is None]
    alarms = [t for t in ordinary if detector.detect(t) is not None]
    flagged = [t for t in hard if detector.detect(t) is not None]
    assert len(missed) <= 0.05 * len(crisis), missed
    assert len(alarms) <= 0.03 * len(ordinary), alarms
    assert len(flagged) <= 0.15 * len(hard), flagged
    assert (path.parent / (path.stem + ".before.txt")).is_file()


def test_eval_script_reports_languages_tags_and_speed(tmp_path: Path) -> None:
    data = tmp_path / "batch.tsv"
    data.write_text(
        "label\tcategory\ttext\tlang\ttag\n"
        "1\tsuicide\taku wis ora kuat urip\tjv\tregional\n"
        "0\tnormal\tsesuk ujian\tjv\texam\n"
        "H\thard\tberita bunuh diri di kota\tid\tnews\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "crisis_eval.py"), str(data), "--rounds", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    assert "recall (label 1):              1.000 (1/1)" in out
    assert "per language: recall" in out and "jv " in out
    assert "per tag: recall" in out and "regional" in out
    assert "hard negatives flagged (H):    0.000 (0/1)" in out
    assert "µs/message warm" in out


def test_held_out_blind_batches_are_never_training_data():
    held_out = sorted((TRAINING_DATA / "held_out").glob("crisis_*.tsv"))
    assert len(held_out) >= 2  # the sealed batch and the freshest blind one
    sources = training_sources()
    assert sources and not set(held_out) & set(sources)
    assert all(p.parent == TRAINING_DATA for p in sources)
