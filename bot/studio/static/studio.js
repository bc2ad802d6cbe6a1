// Teman Jiwa studio, on every page: the problems bar follows the folder (polled every
// 0.3 s), and on a flow page a click on a node of the map shows its text and file:line;
// the map is drawn again when the folder changes. Ships in the package; the page loads
// nothing from the network.
"use strict";

const STUDIO_POLL_MS = 300;

function studioData(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

function studioAdd(parent, tag, text, className) {
  const element = document.createElement(tag);
  if (text !== undefined && text !== null) element.textContent = text;
  if (className) element.className = className;
  parent.appendChild(element);
  return element;
}

function studioShowNode(nodes, words, id) {
  const node = nodes[id];
  const panel = document.getElementById("node-panel");
  if (!node || !panel) return;
  panel.replaceChildren();
  panel.dataset.node = id;
  studioAdd(panel, "h2", node.id, "node-id");
  studioAdd(panel, "code", node.where, "where");
  if (node.dead_end) studioAdd(panel, "p", words.dead_end, "mark dead-end");
  if (!node.reachable) studioAdd(panel, "p", words.unreachable, "mark unreachable");
  if (node.say.length) {
    studioAdd(panel, "h3", words.says);
    for (const bubble of node.say) studioAdd(panel, "p", bubble, "bubble");
  }
  if (node.choices.length) {
    studioAdd(panel, "h3", words.choices);
    const list = studioAdd(panel, "ul", null, "choices");
    for (const choice of node.choices) studioAdd(list, "li", choice.label + " (" + choice.id + ")");
  }
  if (node.input) {
    studioAdd(panel, "h3", words.input);
    studioAdd(panel, "p", node.input);
  }
  if (node.ways.length) {
    studioAdd(panel, "h3", words.ways);
    const list = studioAdd(panel, "ul", null, "ways");
    for (const way of node.ways) {
      const target = way.target === null ? "" : " → " + way.target;
      const label = way.label ? " [" + way.label + "]" : "";
      const missing = way.exists ? "" : " (" + words.missing + ")";
      studioAdd(list, "li", way.kind + target + label + missing + " · :" + way.line,
                way.exists ? "" : "missing");
    }
  }
  document.querySelectorAll("svg.flowmap g.node.selected").forEach(
    (g) => g.classList.remove("selected"));
  const box = document.getElementById("node-" + id);
  if (box) box.classList.add("selected");
}

function studioBindMap(nodes, words) {
  document.querySelectorAll("svg.flowmap g.node").forEach((g) => {
    const show = () => studioShowNode(nodes, words, g.dataset.node);
    g.addEventListener("click", show);
    g.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); show(); }
    });
  });
}

// The problems bar, drawn as pages.py draws it.
function studioShowProblems(data) {
  const bar = document.getElementById("problems");
  const words = studioData("problem-words");
  if (!bar || !words) return;
  bar.replaceChildren();
  bar.dataset.version = String(data.version);
  bar.className = data.problems.length ? "" : "ok";
  if (!data.problems.length) {
    bar.textContent = words.ok;
    return;
  }
  const list = studioAdd(bar, "ul");
  for (const problem of data.problems) {
    const item = studioAdd(list, "li", null, problem.severity);
    studioAdd(item, "code", problem.where);
    item.appendChild(document.createTextNode(" " + problem.message));
    if (problem.hint) studioAdd(item, "div", problem.hint, "hint");
  }
  if (data.errors) studioAdd(bar, "p", words.kept, "note");
}

// A flow page: the map and the node panel's data of the folder as it is now.
async function studioRefreshMap() {
  const svg = document.querySelector("svg.flowmap");
  const holder = svg ? svg.parentElement : null;
  if (!svg || !holder) return;
  const flow = svg.dataset.flow;
  const [map, details] = await Promise.all([
    fetch("/flows/" + encodeURIComponent(flow) + "/map.svg"),
    fetch("/api/flows/" + encodeURIComponent(flow)),
  ]);
  if (!map.ok || !details.ok) return;
  const parsed = new DOMParser().parseFromString(await map.text(), "image/svg+xml");
  const fresh = parsed.documentElement;
  if (fresh.nodeName !== "svg") return;
  const nodes = (await details.json()).nodes;
  const data = document.getElementById("nodes-data");
  if (data) data.textContent = JSON.stringify(nodes);
  holder.replaceChildren(document.importNode(fresh, true));
  const words = studioData("panel-words");
  studioBindMap(nodes, words);
  const panel = document.getElementById("node-panel");
  if (panel && panel.dataset.node && nodes[panel.dataset.node]) {
    studioShowNode(nodes, words, panel.dataset.node);
  }
}

async function studioPoll() {
  const bar = document.getElementById("problems");
  try {
    const response = await fetch("/api/problems", { cache: "no-store" });
    if (response.ok) {
      const data = await response.json();
      if (bar && bar.dataset.version !== String(data.version)) {
        studioShowProblems(data);
        document.dispatchEvent(new CustomEvent("studio:content", { detail: data }));
        await studioRefreshMap();
      }
    }
  } catch (error) {
    // The studio was stopped or is busy: try again on the next round.
  }
  setTimeout(studioPoll, STUDIO_POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  const nodes = studioData("nodes-data");
  const words = studioData("panel-words");
  if (nodes && words) studioBindMap(nodes, words);
  if (document.getElementById("problems")) setTimeout(studioPoll, STUDIO_POLL_MS);
});
