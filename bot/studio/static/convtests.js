// Teman Jiwa studio: run the folder's conversation tests and show what passed and, for a
// failing test, its first step that did not go as written.
"use strict";

function testsShow(result, words) {
  const summary = document.getElementById("test-summary");
  const list = document.getElementById("test-results");
  const problems = document.getElementById("test-problems");
  summary.textContent = result.message;
  summary.className = result.status === "ran" && !result.failed.length ? "ok" : "bad";
  problems.replaceChildren();
  for (const problem of result.problems) {
    const item = studioAdd(problems, "li", null, problem.severity);
    studioAdd(item, "code", problem.where);
    item.appendChild(document.createTextNode(" " + problem.message));
  }
  list.replaceChildren();
  for (const test of result.failed) {
    const item = studioAdd(list, "li", null, "fail");
    item.dataset.name = test.name;
    studioAdd(item, "b", "✗ " + words.failed + ": ");
    studioAdd(item, "span", test.name, "name");
    studioAdd(item, "code", test.step_where + " (" + words.step + " " + test.step + ")", "where");
    studioAdd(item, "pre", test.message, "difference");
  }
  for (const test of result.passed) {
    const item = studioAdd(list, "li", null, "pass");
    item.dataset.name = test.name;
    studioAdd(item, "b", "✓ ");
    studioAdd(item, "span", test.name, "name");
    studioAdd(item, "code", test.where, "where");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const words = studioData("test-words");
  const button = document.getElementById("run-tests");
  if (!words || !button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    const summary = document.getElementById("test-summary");
    summary.textContent = words.running;
    summary.className = "";
    try {
      const response = await fetch("/api/tests/run", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
      });
      testsShow(await response.json(), words);
    } finally {
      button.disabled = false;
    }
  });
});
