"""Hundreds of seeded random mutations of content/id: no linter traceback, no hang, and a
mutant the linter passes is served without an engine failure or a silent crisis path.

The mutations and checks live in tests/fault/mutations.py; `python -m tests.fault.mutations
--count 3000 --seed N` runs a longer search by hand. SEED and COUNT keep CI repeatable and
bounded (about 0.1 CPU seconds per mutant).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from flows.contentset import keep_last_good, load_serving_set
from flows.linter import load_content
from tests.fault.mutations import REAL_CONTENT, Mutant, MutationRun, Verdict, summary

SEED = 20261201
COUNT = 200


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> MutationRun:
    return MutationRun(tmp_path_factory.mktemp("mutations"), SEED)


@pytest.fixture(scope="module")
def verdicts(run) -> list[Verdict]:
    return [run.check(run.mutant(number)) for number in range(COUNT)]


def test_the_unmutated_content_passes_every_check(run):
    """The oracle itself: the shipped content is served, crisis path included."""
    original = Mutant(-1, "system.yaml", "none", "unmutated", run.originals["system.yaml"])
    verdict = asyncio.run(run.serve(original, load_content(REAL_CONTENT), run.detector))
    assert verdict.outcome == "served", str(verdict)


def test_no_mutant_breaks_the_linter_or_the_engine(verdicts):
    defects = [v for v in verdicts if v.defect]
    assert not defects, summary(verdicts)


def test_the_mutants_reach_both_the_linter_and_the_engine(verdicts):
    outcomes = Counter(v.outcome for v in verdicts)
    assert outcomes["rejected"] >= COUNT // 3, summary(verdicts)
    assert outcomes["served"] >= COUNT // 10, summary(verdicts)  # the engine really ran
    operations = Counter(v.mutant.operation for v in verdicts)
    assert len(operations) >= 15, operations  # nearly every kind of mutation was tried
    assert {v.mutant.file for v in verdicts} >= {"system.yaml", "hotlines.yaml"}


def test_a_rejected_mutant_leaves_the_last_good_copy_served(run, verdicts, tmp_path):
    last_good = tmp_path / "content-last-good"
    good, _problems = load_serving_set(run.folder, None)  # the folder, still unmutated
    keep_last_good(good, last_good)
    rejected = [v.mutant for v in verdicts if v.outcome == "rejected"][:3]
    assert rejected
    for mutant in rejected:
        with run.applied(mutant) as folder:
            served, problems = load_serving_set(folder, last_good)
        assert served.directory == last_good, str(mutant)
        assert any(p.severity == "error" for p in problems), str(mutant)
        assert served.detector is not None
        assert served.content.flows.keys() == good.content.flows.keys()
