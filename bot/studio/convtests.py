"""The folder's conversation tests (`DIR/tests/*.yaml`), run from the page.

Exactly what `temanjiwa test DIR` runs (flows/convtest.py: the same driver and example
areas), in a worker thread so the page keeps answering while they run. A failing test
reports its first failing step, which is the first difference an editor has to look at.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.studio.pages import short_path
from flows.convtest import collect, default_driver_factory, run_tests
from flows.i18n import _
from flows.problems import ContentError, Problem


def _where(file: str, line: int | None, directory: Path) -> str:
    path = short_path(file, str(directory))
    return f"{path}:{line}" if line else path


def _problem(problem: Problem, directory: Path) -> dict[str, Any]:
    return {"where": _where(problem.file, problem.line, directory), "message": problem.message,
            "hint": problem.hint, "severity": problem.severity}


def run_folder_tests(directory: Path) -> dict[str, Any]:
    """Run every conversation test of `directory`; the result as the page shows it."""
    try:
        factory = default_driver_factory(directory)
    except ContentError as exc:
        return {"status": "content_errors", "passed": [], "failed": [],
                "message": _("The content has errors: fix the problems above, then run the "
                             "tests again."),
                "problems": [_problem(p, directory) for p in exc.problems]}
    tests, problems = collect(directory)
    outcome = asyncio.run(run_tests(tests, factory))
    passed = [{"name": t.name, "where": _where(t.file, t.line, directory)}
              for t in outcome.passed]
    failed = [{"name": f.test.name, "where": _where(f.test.file, f.test.line, directory),
               "step": f.step, "step_where": _where(f.test.file, f.line, directory),
               "message": f.message} for f in outcome.failures]
    summary = _("{passed} passed, {failed} failed").format(passed=len(passed),
                                                           failed=len(failed))
    return {"status": "ran", "passed": passed, "failed": failed, "message": summary,
            "problems": [_problem(p, directory) for p in problems]}


async def run_tests_in_thread(directory: Path) -> dict[str, Any]:
    return await asyncio.to_thread(run_folder_tests, directory)
