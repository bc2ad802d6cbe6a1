// Teman Jiwa studio: the simulator's phone. The server runs the real bot and renders every
// turn for both channels (Telegram's sendMessage arguments, WhatsApp's Graph API bodies);
// this script only draws them and sends what the editor types or presses.
"use strict";

const SIM_VIEW_KEY = "temanjiwa-studio-view";
const sim = { view: "telegram", state: null, busy: false, words: {} };

function simEl(id) {
  return document.getElementById(id);
}

// Text with Telegram's bold entities (offsets in UTF-16 units, as JavaScript strings are).
function simTelegramText(parent, text, entities) {
  const bold = (entities || []).filter((e) => e.type === "bold")
    .sort((a, b) => a.offset - b.offset);
  let at = 0;
  for (const entity of bold) {
    if (entity.offset < at) continue;
    parent.appendChild(document.createTextNode(text.slice(at, entity.offset)));
    studioAdd(parent, "b", text.slice(entity.offset, entity.offset + entity.length));
    at = entity.offset + entity.length;
  }
  parent.appendChild(document.createTextNode(text.slice(at)));
}

// Text with WhatsApp's own *bold* markup, as the WhatsApp app shows it.
function simWhatsAppText(parent, text) {
  const pattern = /\*([^*\n]+)\*/g;
  let at = 0;
  for (const match of text.matchAll(pattern)) {
    parent.appendChild(document.createTextNode(text.slice(at, match.index)));
    studioAdd(parent, "b", match[1]);
    at = match.index + match[0].length;
  }
  parent.appendChild(document.createTextNode(text.slice(at)));
}

function simBubble(chat, side, turn) {
  const bubble = studioAdd(chat, "div", null, "msg " + side);
  if (turn !== undefined) bubble.dataset.turn = String(turn);
  return bubble;
}

function simTelegramMessage(chat, message, turn) {
  const bubble = simBubble(chat, "in", turn);
  simTelegramText(studioAdd(bubble, "div", null, "text"), message.text, message.entities);
  const rows = message.reply_markup ? message.reply_markup.inline_keyboard : [];
  if (!rows.length) return;
  const keyboard = studioAdd(chat, "div", null, "keyboard");
  for (const row of rows) {
    const line = studioAdd(keyboard, "div", null, "row");
    for (const button of row) {
      const element = studioAdd(line, "button", button.text, "tg-button");
      element.type = "button";
      element.dataset.data = button.callback_data;
      element.addEventListener("click", () => simPress(button.callback_data));
    }
  }
}

function simWhatsAppMessage(chat, body, turn) {
  const bubble = simBubble(chat, "in", turn);
  const text = studioAdd(bubble, "div", null, "text");
  if (body.type === "text") {
    simWhatsAppText(text, body.text.body);
    return;
  }
  const interactive = body.interactive;
  simWhatsAppText(text, interactive.body.text);
  if (interactive.type === "button") {
    bubble.classList.add("wa-interactive");
    const buttons = studioAdd(bubble, "div", null, "wa-buttons");
    for (const button of interactive.action.buttons) {
      const element = studioAdd(buttons, "button", button.reply.title, "wa-button");
      element.type = "button";
      element.dataset.id = button.reply.id;
      element.addEventListener("click", () => simPress(button.reply.id));
    }
  } else if (interactive.type === "list") {
    bubble.classList.add("wa-interactive");
    const open = studioAdd(bubble, "button", "☰ " + interactive.action.button, "wa-list-open");
    open.type = "button";
    const rows = studioAdd(bubble, "div", null, "wa-rows");
    rows.hidden = true;
    open.addEventListener("click", () => { rows.hidden = !rows.hidden; });
    for (const section of interactive.action.sections) {
      for (const row of section.rows) {
        const element = studioAdd(rows, "button", null, "wa-row");
        element.type = "button";
        element.dataset.id = row.id;
        studioAdd(element, "span", row.title, "title");
        if (row.description) studioAdd(element, "span", row.description, "description");
        element.addEventListener("click", () => simPress(row.id));
      }
    }
  }
}

// How WhatsApp showed the choices of a turn: buttons, a list, or (when the Telegram
// keyboard exists but WhatsApp got only text) a numbered menu.
function simWhatsAppKind(item) {
  const last = item.whatsapp[item.whatsapp.length - 1];
  if (!last) return null;
  if (last.type === "interactive") return last.interactive.type === "button" ? "buttons" : "list";
  const telegram = item.telegram[item.telegram.length - 1];
  return telegram && telegram.reply_markup ? "menu" : null;
}

function simDrawChat() {
  const chat = simEl("chat");
  const state = sim.state;
  chat.replaceChildren();
  if (!state) return;
  for (const item of state.chat) {
    if (item.from === "resident") {
      if (item.kind === "press" && sim.view === "telegram") continue;
      const bubble = simBubble(chat, "out");
      bubble.dataset.kind = item.kind;
      studioAdd(bubble, "div", item.text, "text");
      continue;
    }
    if (sim.view === "telegram") {
      for (const message of item.telegram) simTelegramMessage(chat, message, item.turn);
    } else {
      for (const body of item.whatsapp) simWhatsAppMessage(chat, body, item.turn);
      const kind = simWhatsAppKind(item);
      if (kind) studioAdd(chat, "div", sim.words[kind], "render-note " + kind);
    }
  }
  if (sim.busy) studioAdd(chat, "div", sim.words.busy, "msg in busy");
  chat.scrollTop = chat.scrollHeight;
}

function simShowContent(content) {
  const box = simEl("sim-content");
  box.replaceChildren();
  box.className = "content-status " + content.status;
  box.dataset.status = content.status;
  studioAdd(box, "p", content.message);
  if (!content.crisis_detection && content.status !== "none") {
    studioAdd(box, "p", sim.words.detector_off, "warning");
  }
}

function simDrawSide() {
  const state = sim.state;
  if (!state) return;
  simShowContent(state.content);
  simEl("resident").textContent = sim.words.resident + " " + state.resident;
  simEl("node").textContent = state.node || sim.words.none;
  const select = simEl("start-flow");
  const chosen = select.value;
  select.replaceChildren();
  const home = studioAdd(select, "option", sim.words.home);
  home.value = "";
  for (const flow of state.flows) {
    const option = studioAdd(select, "option", flow.id + " · " + flow.title);
    option.value = flow.id;
  }
  select.value = state.flows.some((f) => f.id === chosen) ? chosen : "";
  const events = simEl("events");
  events.replaceChildren();
  if (!state.events.length) studioAdd(events, "li", sim.words.no_events, "empty");
  for (const event of [...state.events].reverse()) {
    const item = studioAdd(events, "li");
    item.dataset.name = event.name;
    studioAdd(item, "b", event.name, "name");
    const data = Object.entries(event.data).map(([k, v]) => k + "=" + JSON.stringify(v));
    if (data.length) studioAdd(item, "span", " " + data.join(", "), "data");
    studioAdd(item, "span", " · " + sim.words.turn + " " + event.turn, "turn");
  }
  const cards = simEl("cards");
  cards.replaceChildren();
  if (!state.cards.length) studioAdd(cards, "p", sim.words.no_cards, "empty");
  for (const card of [...state.cards].reverse()) {
    const element = studioAdd(cards, "pre", card.text, "card");
    element.dataset.turn = String(card.turn);
  }
  simEl("notes-box").hidden = !state.notes.length;
  const notes = simEl("notes");
  notes.replaceChildren();
  for (const note of state.notes) studioAdd(notes, "li", "→ " + note.channel + ": " + note.text);
}

function simDraw() {
  simDrawChat();
  simDrawSide();
}

async function simRequest(path, body) {
  sim.busy = true;
  simSetBusy();
  try {
    const response = await fetch(path, body === undefined ? { cache: "no-store" } : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...body, view: sim.view }),
    });
    const data = await response.json();
    if (data.chat) sim.state = data;
  } finally {
    sim.busy = false;
    simSetBusy();
    simDraw();
  }
}

function simSetBusy() {
  const phone = simEl("phone");
  phone.classList.toggle("busy", sim.busy);
  document.querySelectorAll("#send textarea, #send button, #restart").forEach((el) => {
    el.disabled = sim.busy;
  });
}

function simPress(data) {
  if (sim.busy) return;
  simRequest("/api/simulator/press", { data: data });
}

function simRestart(flow) {
  return simRequest("/api/simulator/restart", { flow: flow || null });
}

function simSetView(view) {
  sim.view = view;
  try { localStorage.setItem(SIM_VIEW_KEY, view); } catch (error) { /* private mode */ }
  simEl("phone").dataset.view = view;
  document.querySelectorAll(".views button").forEach((button) => {
    button.classList.toggle("on", button.dataset.view === view);
    button.setAttribute("aria-pressed", String(button.dataset.view === view));
  });
  simDrawChat();
}

document.addEventListener("DOMContentLoaded", async () => {
  sim.words = studioData("sim-words") || {};
  let saved = null;
  try { saved = localStorage.getItem(SIM_VIEW_KEY); } catch (error) { /* private mode */ }
  simSetView(saved === "whatsapp" ? "whatsapp" : "telegram");
  document.querySelectorAll(".views button").forEach((button) => {
    button.addEventListener("click", () => simSetView(button.dataset.view));
  });
  const form = simEl("send");
  const text = simEl("text");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const message = text.value;
    if (!message.trim() || sim.busy) return;
    text.value = "";
    simRequest("/api/simulator/send", { text: message }).then(() => text.focus());
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  simEl("restart").addEventListener("click", () => simRestart(simEl("start-flow").value));
  document.addEventListener("studio:content", (event) => {
    if (sim.state) {
      sim.state.content = event.detail.content;
      simShowContent(event.detail.content);
    }
  });
  const flow = new URLSearchParams(window.location.search).get("flow");
  await simRequest("/api/simulator");
  if (flow) {
    history.replaceState(null, "", window.location.pathname);
    await simRestart(flow);
  } else if (sim.state && !sim.state.chat.length && sim.state.content.status !== "none") {
    await simRestart(null);
  }
});
