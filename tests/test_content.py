"""The shipped content: it passes the linter and every conversation test in content/id/tests."""

from __future__ import annotations

import re

import pytest

from flows.convtest import collect, default_driver_factory, run_test
from flows.linter import lint_directory, load_content
from tests.conftest import REAL_CONTENT

TESTS, TEST_PROBLEMS = collect(REAL_CONTENT)


def test_content_passes_the_linter():
    errors = [str(p) for p in lint_directory(REAL_CONTENT) if p.severity == "error"]
    assert errors == []


def test_conversation_test_files_are_valid():
    assert [str(p) for p in TEST_PROBLEMS] == []
    assert len(TESTS) > 50


@pytest.fixture(scope="module")
def make_driver():
    return default_driver_factory(REAL_CONTENT)


@pytest.mark.parametrize("conv", TESTS, ids=[f"{t.file.rsplit('/', 1)[-1]}:{t.name}"
                                             for t in TESTS])
async def test_conversation(conv, make_driver):
    driver = make_driver()
    failure = await run_test(conv, driver)
    assert failure is None, str(failure)


async def test_a_failing_script_is_reported_with_file_line_and_what_was_said(make_driver,
                                                                             tmp_path):
    from flows.convtest import load_tests

    path = tmp_path / "t.yaml"
    path.write_text("tests:\n  - name: salah\n    steps:\n      - send: halo\n"
                    "        expect: {says: 'kata yang tidak ada'}\n")
    tests, _problems = load_tests(path)
    failure = await run_test(tests[0], make_driver())
    assert failure is not None and failure.line == 4
    assert "kata yang tidak ada" in str(failure) and "t.yaml:4" in str(failure)


#: Words that tell a resident what they *have*. Results say what a score suggests and what to
#: do next (content/id/README.md, "Bukan diagnosis").
DIAGNOSIS_LIKE = re.compile(
    r"\b(?:anda|kamu)\s+(?:sedang\s+|mungkin\s+)?(?:mengalami|menderita|mengidap|terkena)\s+"
    r"(?:gejala\s+)?(?:depresi|gangguan|ptsd|kecemasan|skizofrenia)"
    r"|\b(?:mungkin|kemungkinan(?:\s+besar)?)\s+(?:anda\s+)?depresi\b",
    re.IGNORECASE,
)


def test_no_result_or_band_label_reads_as_a_diagnosis():
    content = load_content(REAL_CONTENT)
    found = []
    for flow in content.flows.values():
        for node in flow.nodes.values():
            texts = [t.source for t in node.say]
            if node.bands:
                texts += [band.label for band in node.bands.ranges]
            found += [f"{flow.id}.{node.id}: {t[:80]}" for t in texts if DIAGNOSIS_LIKE.search(t)]
    assert found == []
