// The page of `eos ui`. It shows what the server says the system is, redraws when the server
// pushes a journal entry (server-sent events; no polling here), and asks the server to act.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const api = (path) => `${path}${path.includes("?") ? "&" : "?"}token=${token}`;
const $ = (id) => document.getElementById(id);
let system = { actors: [], checkpoints: [], paused: false };
let journal = [];
// The journal position shown: null is live.
let at = null;
// An edit is open: the lanes are not redrawn under the person typing.
let editing = false;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function short(value, max = 80) {
  const text = JSON.stringify(value);
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

function showError(text) {
  $("error").textContent = text || "";
}

async function act(action) {
  showError("");
  const response = await fetch(api("/api/action"), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(action),
  });
  const answer = await response.json();
  if (!answer.ok) showError(answer.error);
  await refresh();
  return answer;
}

// JSON typed in the page: the parser's message, and nothing sent, if it is not JSON.
function checked(text, what) {
  try {
    JSON.parse(text);
    return true;
  } catch (e) {
    showError(`${what} is not valid JSON: ${e.message}`);
    return false;
  }
}

function editor(initial, what, save) {
  editing = true;
  const area = el("textarea", { rows: 4, class: "editor" });
  area.value = JSON.stringify(initial, null, 2);
  const button = el("button", {
    class: "save",
    onclick: () => {
      if (checked(area.value, what)) {
        editing = false;
        save(area.value);
      }
    },
  }, "save");
  const cancel = el("button", {
    class: "cancel",
    onclick: () => {
      editing = false;
      render();
    },
  }, "cancel");
  return el("div", {}, area, button, cancel);
}

// States and pending mail as they were after journal entry `seq`, read from the history.
function pastSystem(seq) {
  const states = {};
  const sent = {};
  const pending = {};
  for (const e of journal) {
    if (e.seq > seq) break;
    if (e.event === "spawn") states[e.actor] = e.state;
    if (e.event === "result" && e.state !== undefined) states[e.actor] = e.state;
    if (e.event === "state_edited") states[e.actor] = e.after;
    if (e.event === "send") sent[e.message] = e;
    if (e.event === "route" && sent[e.message]) pending[e.message] = sent[e.message];
    if (["deliver", "pending_deleted", "dead"].includes(e.event)) delete pending[e.message];
    if (e.event === "pending_edited" && pending[e.message]) {
      pending[e.message] = { ...pending[e.message], payload: e.after };
    }
  }
  const ids = new Set([...Object.keys(states), ...Object.values(pending).map((p) => p.to)]);
  return {
    paused: false,
    actors: [...ids].sort().map((id) => ({
      id, status: "(history)", state: states[id], paused: false, handling: null,
      pending: Object.values(pending).filter((p) => p.to === id)
        .map((p) => ({ id: p.message, sender: p.from, payload: p.payload, file: "" })),
    })),
  };
}

function renderLanes() {
  const shown = at === null ? system : pastSystem(at);
  const live = at === null;
  const lanes = $("lanes");
  lanes.replaceChildren();
  for (const actor of shown.actors) {
    const title = el("h3", {}, actor.id, el("span", { class: "status" },
      ` ${actor.status}${actor.paused ? " · paused" : ""} · ${actor.pending.length} waiting`));
    if (live) {
      title.append(
        el("button", { class: "kill", onclick: () => act({ do: "kill", actor: actor.id }) }, "kill"),
        el("button", { class: "restart", onclick: () => act({ do: "restart", actor: actor.id }) },
          "restart"));
    }
    const state = el("details", { open: "" }, el("summary", {}, "state"),
      el("pre", { class: "state" }, JSON.stringify(actor.state, null, 2)));
    if (live) {
      state.append(el("button", {
        class: "edit-state",
        onclick: (ev) => {
          ev.target.replaceWith(editor(actor.state, "the state",
            (text) => act({ do: "state", actor: actor.id, state: text })));
        },
      }, "edit state"));
    }
    const list = el("ul", { class: "pending" });
    if (actor.handling) {
      list.append(el("li", { class: "handling" }, "handling ",
        el("code", {}, short(actor.handling.payload))));
    }
    for (const m of actor.pending) {
      const item = el("li", { "data-id": m.id || "", "data-file": m.file },
        el("span", { class: "dim" }, `${m.sender || "(outside)"}${m.timer ? " ⏱" : ""} `),
        el("code", { class: "payload" }, short(m.payload)), " ");
      if (live) {
        item.append(
          el("button", { class: "deliver", onclick: () => act({ do: "deliver", message: m.file }) },
            "deliver"),
          el("button", {
            class: "drop", onclick: () => act({ do: "drop", actor: actor.id, file: m.file }),
          }, "drop"),
          el("button", {
            class: "duplicate",
            onclick: () => act({ do: "duplicate", actor: actor.id, file: m.file }),
          }, "dup"),
          el("button", {
            class: "edit",
            onclick: (ev) => {
              ev.target.replaceWith(editor(m.payload, "the payload",
                (text) => act({ do: "edit", actor: actor.id, file: m.file, payload: text })));
            },
          }, "edit"));
      }
      list.append(item);
    }
    lanes.append(el("div", { class: "lane", "data-actor": actor.id }, title, state, list));
  }
}

// The Lamport diagram: one column per actor, an arrow per delivery, in delivery order.
function renderDiagram() {
  const upto = at === null ? Infinity : at;
  const entries = journal.filter((e) => e.seq <= upto);
  const sends = {};
  const arrows = [];
  const marks = [];
  for (const e of entries) {
    if (e.event === "send") sends[e.message] = e;
    if (e.event === "deliver") {
      const s = sends[e.message];
      arrows.push({ from: s ? s.from || "(outside)" : "(outside)", to: e.actor, payload: e.payload });
    }
    if (["violation", "break", "fault", "restart", "exit", "pause", "resume", "restored"]
      .includes(e.event)) {
      marks.push(`#${e.seq} ${e.event} ${e.actor || e.checkpoint || ""} ${e.what || e.detail || e.reason || ""}`);
    }
  }
  const names = [...new Set(arrows.flatMap((a) => [a.from, a.to]))];
  const x = (n) => 80 + names.indexOf(n) * 160;
  const rows = arrows.slice(-60);
  const height = 40 + rows.length * 26;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", String(Math.max(300, 160 * names.length)));
  svg.setAttribute("height", String(height));
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  for (const n of names) {
    add("text", { x: x(n), y: 16, "text-anchor": "middle", "font-weight": "bold" }, n);
    add("line", { x1: x(n), y1: 22, x2: x(n), y2: height, stroke: "#bbb" });
  }
  rows.forEach((a, i) => {
    const y = 40 + i * 26;
    add("line", { x1: x(a.from), y1: y - 8, x2: x(a.to), y2: y, stroke: "#36c", "stroke-width": 1.5 });
    add("circle", { cx: x(a.to), cy: y, r: 3, fill: "#36c" });
    add("text", { x: (x(a.from) + x(a.to)) / 2, y: y - 10, "text-anchor": "middle", "font-size": 11 },
      short(a.payload, 40));
  });
  $("diagram").replaceChildren(svg);
  $("marks").replaceChildren(...marks.slice(-20).map((m) => el("li", {}, m)));
}

function renderHeader() {
  const mode = $("mode");
  mode.textContent = at !== null ? `history at #${at}` : system.paused ? "paused" : "running";
  mode.className = `badge${system.paused || at !== null ? " paused" : ""}`;
  $("root").textContent = system.root || "";
  const to = $("send-to");
  const chosen = to.value;
  to.replaceChildren(...system.actors.map((a) => el("option", { value: a.id }, a.id)));
  if (chosen) to.value = chosen;
  $("restore-name").replaceChildren(...system.checkpoints.map((c) => el("option", { value: c }, c)));
  const slider = $("slider");
  const last = journal.length ? journal[journal.length - 1].seq : 0;
  slider.max = String(last);
  if (at === null) slider.value = String(last);
  $("at").textContent = at === null ? "live" : `entry #${at} of ${last}`;
}

function render() {
  renderHeader();
  if (!editing) renderLanes();
  renderDiagram();
}

// The system as it is now; the journal is read whole once, then grows by what is pushed.
async function refresh() {
  system = await fetch(api("/api/system")).then((r) => r.json());
  render();
}

async function load() {
  journal = await fetch(api("/api/journal")).then((r) => r.json());
  await refresh();
}

let pending = null;
function soon() {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    refresh();
  }, 50);
}

$("pause").onclick = () => act({ do: "pause" });
$("resume").onclick = () => act({ do: "resume" });
$("step").onclick = () => act({ do: "step" });
$("checkpoint").onclick = () => act({ do: "checkpoint", name: $("checkpoint-name").value });
$("restore").onclick = () => act({ do: "restore", name: $("restore-name").value });
$("send").onclick = () => {
  const payload = $("send-payload").value;
  if (checked(payload, "the payload")) {
    act({ do: "send", to: $("send-to").value, from: $("send-from").value, payload });
  }
};
$("slider").oninput = (ev) => {
  const value = Number(ev.target.value);
  const last = journal.length ? journal[journal.length - 1].seq : 0;
  at = value >= last ? null : value;
  render();
};
$("live").onclick = () => {
  at = null;
  render();
};

load();
// The server pushes each journal entry as it is written.
new EventSource(api("/api/events")).onmessage = (event) => {
  const entry = JSON.parse(event.data);
  const last = journal.length ? journal[journal.length - 1].seq : 0;
  if (entry.seq === last + 1) {
    journal.push(entry);
    soon();
  } else if (entry.seq > last) {
    // Something came between the first read and the stream: read it all again.
    load();
  }
};
