// Teman Jiwa studio: click a node of the flow map to see its text and where it is written.
// Ships in the package; the page loads nothing from the network.
"use strict";

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

document.addEventListener("DOMContentLoaded", () => {
  const nodes = studioData("nodes-data");
  const words = studioData("panel-words");
  if (!nodes || !words) return;
  document.querySelectorAll("svg.flowmap g.node").forEach((g) => {
    const show = () => studioShowNode(nodes, words, g.dataset.node);
    g.addEventListener("click", show);
    g.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); show(); }
    });
  });
});
