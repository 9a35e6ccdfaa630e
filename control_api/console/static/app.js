// The dialer console: a small single-page client of the /v1 control API.
//
// The bearer token lives in sessionStorage (this tab only), travels in the Authorization header
// and never in a URL. Buttons follow the lifecycle table and the caller's role, but the server
// stays the authority: a refused move shows the problem document's text. Everything is built
// with textContent (never innerHTML), so campaign data cannot inject markup.
"use strict";

const TOKEN_KEY = "dialer.console.token";
const POLL_MS = 2000;
const MAX_NOTICES = 4;
const NOTICE_MS = 15000;
const LIVE_STATES = ["running", "paused"];
const LIST_SIZE = 50; // newest first: the campaigns an operator is working on
const COLUMNS = ["Campaign", "State", "Pacing", "Calls in flight", "Abandon rate / target"];

// operation: [states it is allowed from, permission it needs] (README, "Campaigns").
const RULES = {
  start: [["ready", "stopped"], "campaign_run"],
  stop: [["running", "paused"], "campaign_run"],
  pause: [["running"], "pause"],
  resume: [["paused"], "resume"],
  reset: [["stopped", "completed"], "campaign_run"],
  force: [["ready", "running", "paused", "stopped"], "campaign_run"],
  upload: [["ready", "completed"], "records_write"],
  download: [["ready", "completed"], "records_read"],
  delete: [["ready", "paused", "stopped", "completed"], "records_write"],
};
const LABELS = {
  start: "Start", stop: "Stop", pause: "Pause", resume: "Resume", reset: "Reset",
  force: "Force complete", upload: "Add data", download: "Download", delete: "Delete records",
};

// generation: bumped by every start and stop of polling, so a tick of an older loop never
// schedules another; seq/shown: a reply older than the one on screen is never rendered.
const state = { me: null, campaign: null, campaignId: null, timer: null, generation: 0, seq: 0, shown: 0 };

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---- the API -----------------------------------------------------------------------------

class Problem extends Error {
  constructor(status, doc) {
    super(problemText(status, doc));
    this.status = status;
    this.doc = doc;
  }
}

function problemText(status, doc) {
  const title = doc.title || `HTTP ${status}`;
  let text = doc.detail ? `${title}: ${doc.detail}` : title;
  if (status === 409 && Array.isArray(doc.allowed) && doc.state && !text.includes("allowed")) {
    text += ` (the campaign is ${doc.state}; allowed from ${doc.allowed.join(", ") || "no state"})`;
  }
  return text;
}

async function api(method, path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const response = await fetch(`/v1${path}`, {
    method, headers, body, credentials: "omit", cache: "no-store", redirect: "error",
  });
  if (!response.ok) {
    let doc = {};
    try { doc = await response.json(); } catch { doc = {}; }
    const problem = new Problem(response.status, doc);
    if (response.status === 401 && path !== "/me") signOut(problem.message);
    throw problem;
  }
  if (options.raw) return response;
  return response.status === 204 ? null : response.json();
}

// ---- notices -----------------------------------------------------------------------------

function notice(text, kind = "ok") {
  const box = $("notices");
  const close = el("button", { type: "button", class: "quiet", text: "Dismiss" });
  const item = el("div", {
    class: `notice ${kind === "ok" ? "" : "error"}`,
    role: kind === "ok" ? "status" : "alert",
    "data-kind": kind,
  }, el("p", { text }), close);
  close.addEventListener("click", () => item.remove());
  box.prepend(item);
  while (box.children.length > MAX_NOTICES) box.lastElementChild.remove();
  if (kind === "ok") setTimeout(() => item.remove(), NOTICE_MS);  // refusals stay until dismissed
}

function refused(error, action) {
  const text = error instanceof Problem ? error.message : `${action} failed: ${error.message}`;
  notice(`${action} refused — ${text}`, "error");
}

// ---- sign in and routing -----------------------------------------------------------------

function show(view) {
  for (const id of ["signin-view", "list-view", "campaign-view"]) $(id).hidden = id !== view;
}

function signOut(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.me = null;
  stopPolling();
  $("who").hidden = true;
  $("signout").hidden = true;
  show("signin-view");
  if (why) notice(why, "error");
  $("token").focus();
}

async function signIn(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  try {
    await loadMe();
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    refused(error, "Sign in");
    return;
  }
  $("notices").replaceChildren();
  notice(`Signed in as ${state.me.name} (${state.me.role}).`);
  route();
}

async function loadMe() {
  state.me = await api("GET", "/me");
  $("who").textContent = `${state.me.name} · ${state.me.role}`;
  $("who").hidden = false;
  $("signout").hidden = false;
}

function may(permission) {
  return Boolean(state.me && state.me.permissions.includes(permission));
}

function route() {
  if (!state.me) { show("signin-view"); return; }
  const match = /^#\/campaigns\/(\d+)$/.exec(location.hash);
  stopPolling();
  if (match) {
    state.campaignId = Number(match[1]);
    state.campaign = null;
    $("diag-out").replaceChildren();
    $("pauses-out").replaceChildren();
    show("campaign-view");
  } else {
    state.campaignId = null;
    show("list-view");
  }
  startPolling();
}

// ---- polling -----------------------------------------------------------------------------

function stopPolling() {
  state.generation += 1;
  if (state.timer !== null) clearTimeout(state.timer);
  state.timer = null;
}

// A refresh starts every POLL_MS, counted from the start of the previous one (at once when a
// refresh took longer), so the screen is never more than POLL_MS and one reply behind.
function startPolling() {
  stopPolling();
  const generation = state.generation;
  const tick = async () => {
    const began = performance.now();
    await refresh();
    if (!state.me || generation !== state.generation) return;
    state.timer = setTimeout(tick, Math.max(0, POLL_MS - (performance.now() - began)));
  };
  tick();
}

async function refresh() {
  if (!state.me) return;
  state.seq += 1;
  const seq = state.seq;
  const current = () => {
    if (seq < state.shown) return false;
    state.shown = seq;
    return true;
  };
  try {
    if (state.campaignId === null) await refreshList(current);
    else await refreshCampaign(current);
  } catch (error) {
    if (!(error instanceof Problem && error.status === 401)) {
      $("list-updated").textContent = `Not updated: ${error.message}`;
    }
  }
}

async function liveOf(campaign) {
  const status = await api("GET", `/campaigns/${campaign.id}/status`);
  let live = null;
  if (LIVE_STATES.includes(status.state)) {
    live = (await api("GET", `/campaigns/${campaign.id}/diagnostics`)).runtime.live || null;
  }
  return { status, live };
}

function percent(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`;
}

function abandonCell(campaign, live) {
  const rate = live ? live.abandon_rate : null;
  const cell = el("td", { text: `${percent(rate)} / ${percent(campaign.abandon_target)}` });
  if (rate !== null && rate !== undefined && rate > campaign.abandon_target) cell.classList.add("over");
  return cell;
}

function inFlight(status, live) {
  if (live && live.in_flight !== undefined) return live.in_flight;
  return (status.records && status.records.dialing) || 0;
}

function stateBadge(value) {
  return el("span", { class: `state state-${value}`, text: value });
}

async function refreshList(current) {
  const { campaigns } = await api("GET", `/campaigns?order=newest&limit=${LIST_SIZE}`);
  const lives = await Promise.all(campaigns.map(liveOf));
  if (state.campaignId !== null || !current()) return;
  const rows = campaigns.map((c, i) => {
    const { status, live } = lives[i];
    const link = el("a", { href: `#/campaigns/${c.id}`, text: c.name });
    const cells = [
      el("td", {}, link), el("td", {}, stateBadge(status.state)),
      el("td", { text: c.pacing_mode }), el("td", { text: String(inFlight(status, live)) }),
      abandonCell(c, live),
    ];
    cells.forEach((cell, n) => cell.setAttribute("data-label", COLUMNS[n]));
    return el("tr", { "data-campaign": String(c.id) }, ...cells);
  });
  document.querySelector("#campaigns tbody").replaceChildren(...rows);
  $("list-empty").hidden = campaigns.length > 0;
  const scope = campaigns.length === LIST_SIZE ? `the newest ${LIST_SIZE} campaigns; ` : "";
  $("list-updated").textContent = `Live; ${scope}updated ${new Date().toLocaleTimeString()}`;
}

// ---- the campaign screen -----------------------------------------------------------------

async function refreshCampaign(current) {
  const id = state.campaignId;
  const campaign = await api("GET", `/campaigns/${id}`);
  const { status, live } = await liveOf(campaign);
  if (state.campaignId !== id || !current()) return;
  campaign.state = status.state;
  state.campaign = campaign;
  state.status = status;
  renderCampaign(campaign, status, live);
}

function fact(label, value, key) {
  return el("div", { "data-fact": key }, el("dt", { text: label }), el("dd", { text: value }));
}

function renderCampaign(c, status, live) {
  $("campaign-title").textContent = c.name;
  $("campaign-state").replaceWith(Object.assign(stateBadge(status.state), { id: "campaign-state" }));
  const records = status.records || {};
  const total = Object.values(records).reduce((a, b) => a + b, 0);
  const perStatus = Object.entries(records).filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  const items = [
    fact("Pacing mode", c.pacing_mode, "pacing"),
    fact("Calls in flight", String(inFlight(status, live)), "in-flight"),
    fact("Abandon rate / target",
      `${percent(live ? live.abandon_rate : null)} / ${percent(c.abandon_target)}`, "abandon"),
    fact("Records", `${total} (${perStatus})`, "records"),
    fact("Resume owner", c.resume_owner || "(none: admins only)", "resume-owner"),
    fact("Owner", c.owner || "—", "owner"),
  ];
  const controlled = LIVE_STATES.includes(status.state) && status.controlled_until &&
    new Date(status.controlled_until) > new Date();
  if (controlled) {
    items.push(fact("Controlled resume until", new Date(status.controlled_until).toLocaleString(),
      "controlled"));
  }
  $("facts").replaceChildren(...items);
  renderButtons(status.state);
}

function allowed(op, current) {
  const [states, permission] = RULES[op];
  if (!may(permission)) return `your role (${state.me.role}) may not ${LABELS[op].toLowerCase()}`;
  if (op === "resume" && state.me.role !== "admin" &&
      state.campaign.resume_owner !== state.me.name) {
    return `only the resume owner (${state.campaign.resume_owner || "none"}) or an admin`;
  }
  if (!states.includes(current)) return `only when ${states.join(" or ")}`;
  return null;
}

function setButton(id, op, current, label) {
  const button = $(id);
  const why = allowed(op, current);
  button.textContent = label;
  button.dataset.op = op;
  button.disabled = why !== null;
  button.title = why === null ? LABELS[op] : `${LABELS[op]}: ${why}`;
  return why === null ? null : `${LABELS[op]}: ${why}`;
}

function renderButtons(current) {
  const toggle = RULES.stop[0].includes(current) ? "stop" : "start";
  const reasons = [
    setButton("op-startstop", toggle, current, LABELS[toggle]),
    setButton("op-pause", "pause", current, "Pause…"),
    setButton("op-resume", "resume", current, "Resume…"),
    setButton("op-reset", "reset", current, "Reset…"),
    setButton("op-force", "force", current, "Force complete…"),
    setButton("op-upload", "upload", current, "Add data…"),
    setButton("op-download", "download", current, "Download…"),
    setButton("op-delete", "delete", current, "Delete records…"),
  ].filter(Boolean);
  const readOnly = !may("campaign_run") && !may("pause") && !may("records_read");
  $("op-hint").textContent = readOnly
    ? `Read only: the ${state.me.role} role may look but not change campaigns.`
    : reasons.length ? `Not available now — ${reasons.join("; ")}.` : "";
}

function campaignPath(suffix = "") {
  return `/campaigns/${state.campaignId}${suffix}`;
}

async function afterChange() {
  await refresh();
}

// ---- operations --------------------------------------------------------------------------

async function startStop() {
  const op = $("op-startstop").dataset.op;
  try {
    const row = await api("POST", campaignPath(`/${op}`));
    notice(`${LABELS[op]}: campaign ${row.name} is now ${row.state}.`);
  } catch (error) {
    refused(error, LABELS[op]);
  }
  await afterChange();
}

function openDialog(id) {
  const dialog = $(id);
  dialog.showModal();
  const first = dialog.querySelector("input, select, textarea, button[type=submit]");
  if (first) first.focus();
  return dialog;
}

function confirmDialog(title, text, okLabel) {
  const dialog = $("dlg-confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-ok").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

async function pause(event) {
  event.preventDefault();
  const category = $("pause-category").value;
  const text = $("pause-text").value.trim();
  if (!category || !text) { notice("Pause: choose a category and say what happened.", "error"); return; }
  $("dlg-pause").close();
  try {
    await api("POST", campaignPath("/pause"), { json: { category, text } });
    notice(`Paused (${category}): ${text}`);
    $("pause-text").value = "";
  } catch (error) {
    refused(error, "Pause");
  }
  await afterChange();
}

function openResume() {
  const c = state.campaign;
  $("resume-owner").textContent =
    `You approve as ${state.me.name}; the campaign's resume owner is ${c.resume_owner || "(none)"}` +
    " — only the owner or an admin may resume.";
  $("resume-checklist").replaceChildren();
  openDialog("dlg-resume");
}

function checklistList(items) {
  return el("ul", { class: "checklist" }, ...Object.entries(items).map(([name, item]) => {
    const extra = item.count !== undefined ? ` (${item.count})` : "";
    return el("li", { class: item.ok ? "ok" : "bad", "data-item": name },
      `${item.ok ? "✓" : "✗"} ${name.replaceAll("_", " ")}${extra}`);
  }));
}

function resumeOptions() {
  const options = {};
  const minutes = $("resume-minutes").value;
  const max = $("resume-max").value;
  if (minutes) options.review_minutes = Number(minutes);
  if (max) options.max_concurrent_calls = Number(max);
  if ($("resume-progressive").checked) options.progressive_only = true;
  const note = $("resume-note").value.trim();
  if (note) options.note = note;
  return options;
}

async function resume(event) {
  event.preventDefault();
  try {
    await api("POST", campaignPath("/resume"), { json: resumeOptions() });
    $("dlg-resume").close();
    const history = await api("GET", campaignPath("/pauses?limit=1"));
    const last = history.events[0];
    const passed = Object.keys((last && last.checklist) || {}).map((k) => k.replaceAll("_", " "));
    notice(`Resumed by ${state.me.name}; checklist passed (${passed.length} items: ` +
      `${passed.join(", ")}).`);
  } catch (error) {
    if (error instanceof Problem && error.doc.checklist) {
      $("resume-checklist").replaceChildren(
        el("p", { class: "bad", text: "The checklist failed:" }), checklistList(error.doc.checklist));
    } else {
      $("dlg-resume").close();
    }
    refused(error, "Resume");
  }
  await afterChange();
}

function resetFilters() {
  const filters = {};
  const value = (id) => $(id).value.trim();
  if (value("reset-from")) filters.from = `${value("reset-from")}T00:00:00Z`;
  if (value("reset-to")) {
    const to = new Date(`${value("reset-to")}T00:00:00Z`);
    to.setUTCDate(to.getUTCDate() + 1);
    filters.to = to.toISOString();
  }
  if (value("reset-status")) filters.status = [value("reset-status")];
  if (value("reset-reason")) filters.reason = value("reset-reason");
  const dispositions = value("reset-dispositions").split(",").map((s) => s.trim()).filter(Boolean);
  if (dispositions.length) filters.dispositions = dispositions;
  if (value("reset-priority")) {
    filters.priority_min = Number(value("reset-priority"));
    filters.priority_max = Number(value("reset-priority"));
  }
  if (value("reset-agent")) filters.agent = value("reset-agent");
  if (value("reset-skill")) filters.skill = value("reset-skill");
  return filters;
}

async function reset(event) {
  event.preventDefault();
  const filters = resetFilters();
  $("dlg-reset").close();
  $("reset-form").reset();
  const named = Object.keys(filters).filter((k) => k !== "priority_max")
    .map((k) => (k === "priority_min" ? "priority" : k));
  const described = named.length ? `records matching ${named.join(", ")}` : "every resettable record";
  const ok = await confirmDialog("Reset the campaign?",
    `Reset ${described} of ${state.campaign.name}: their previous status is cleared and they ` +
    "can be dialled again. The campaign goes to ready.", "Reset");
  if (!ok) return;
  try {
    const result = await api("POST", campaignPath("/reset"), { json: filters });
    notice(`Reset ${result.reset} records; campaign ${result.campaign.name} is now ` +
      `${result.campaign.state}.`);
  } catch (error) {
    refused(error, "Reset");
  }
  await afterChange();
}

async function forceComplete() {
  const ok = await confirmDialog("Force complete?",
    `Every record of ${state.campaign.name} not yet dialled is marked complete and the ` +
    "campaign ends. This cannot be undone except by a reset.", "Force complete");
  if (!ok) return;
  try {
    const result = await api("POST", campaignPath("/force-complete"));
    notice(`Campaign ${result.campaign.name} was force completed: ${result.completed} ` +
      "undialled records marked complete.", "important");
  } catch (error) {
    refused(error, "Force complete");
  }
  await afterChange();
}

async function deleteRecords() {
  let count;
  try {
    const status = await api("GET", campaignPath("/status"));
    count = Object.values(status.records || {}).reduce((a, b) => a + b, 0);
  } catch (error) {
    refused(error, "Delete records");
    return;
  }
  const ok = await confirmDialog("Delete all records?",
    `Warning: all ${count} records of ${state.campaign.name} will be permanently removed. ` +
    "To dial them again you will have to upload them again. Click OK to delete.", "OK");
  if (!ok) return;
  try {
    const result = await api("DELETE", campaignPath(`/records?confirm=${count}`));
    notice(`Deleted ${result.deleted} records for good.`);
  } catch (error) {
    refused(error, "Delete records");
  }
  await afterChange();
}

function uploadReport(report) {
  const summary = el("p", { "data-report": "summary",
    text: `${report.rows} rows: ${report.added} added, ${report.duplicates} duplicates, ` +
      `${report.blank} blank, ${report.rejected} rejected.` });
  if (!report.errors.length) return [summary];
  const list = el("ul", { class: "errors" }, ...report.errors.map(
    (e) => el("li", { "data-row": String(e.row), text: `row ${e.row}: ${e.reason}` })));
  return [summary, el("p", { text: "Rows not added:" }), list];
}

async function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) { notice("Add data: choose a file first.", "error"); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const report = await api("POST", campaignPath("/records"), { body: form });
    $("upload-report").replaceChildren(...uploadReport(report));
    notice(`Added ${report.added} of ${report.rows} rows from ${file.name}` +
      (report.rejected ? `; ${report.rejected} rows rejected (see the report).` : "."));
  } catch (error) {
    $("upload-report").replaceChildren(el("p", { class: "bad", text: error.message }));
    refused(error, "Add data");
  }
  await afterChange();
}

function fileName(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const match = /filename="([^"]+)"/.exec(header);
  return match ? match[1] : fallback;
}

async function download(event) {
  event.preventDefault();
  const format = new FormData($("download-form")).get("format");
  $("dlg-download").close();
  try {
    const response = await api("GET", campaignPath(`/records/export?format=${format}`), {
      raw: true, headers: { Accept: "*/*" },
    });
    const blob = await response.blob();
    const name = fileName(response, `campaign-${state.campaignId}.${format}`);
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    notice(`Downloaded ${name} (${blob.size} bytes).`);
  } catch (error) {
    refused(error, "Download");
  }
}

// ---- diagnostics and pause history --------------------------------------------------------

function checkedAt() {
  return el("p", { class: "help", text: `Checked at ${new Date().toLocaleTimeString()}.` });
}

async function diagnostics() {
  try {
    const found = (await api("GET", campaignPath("/diagnostics"))).runtime;
    const findings = (found.findings || []).filter((f) => f.text !== found.text).map(
      (f) => el("li", { "data-blocker": f.blocker, text: `${f.blocker.replaceAll("_", " ")}: ${f.text}` }));
    const parts = [el("p", { "data-diag": "text", text: found.text || "No blocker found." })];
    if (findings.length) parts.push(el("ul", {}, ...findings));
    if (found.held) parts.push(el("p", { class: "bad", text: `Held: ${found.held}` }));
    if (found.note) parts.push(el("p", { class: "help", text: found.note }));
    parts.push(checkedAt());
    $("diag-out").replaceChildren(...parts);
  } catch (error) {
    refused(error, "Diagnostics");
  }
}

async function pauseHistory() {
  try {
    const history = await api("GET", campaignPath("/pauses?limit=20"));
    const counts = Object.entries(history.by_category).filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => el("li", { "data-category": k, text: `${k.replaceAll("_", " ")}: ${n}` }));
    const parts = [el("p", { "data-pauses": "total", text: `${history.total} pauses in all.` })];
    if (counts.length) parts.push(el("ul", {}, ...counts));
    const events = history.events.slice(0, 10).map((e) => el("li", {
      text: `${new Date(e.paused_at).toLocaleString()} — ${e.category} by ${e.paused_by}: ` +
        `${e.text}${e.resumed_by ? ` (resumed by ${e.resumed_by})` : ""}`,
    }));
    if (events.length) parts.push(el("p", { text: "Latest:" }), el("ul", {}, ...events));
    parts.push(checkedAt());
    $("pauses-out").replaceChildren(...parts);
  } catch (error) {
    refused(error, "Pause history");
  }
}

// ---- wiring ------------------------------------------------------------------------------

function opening(op) {
  return {
    startstop: startStop,
    pause: () => openDialog("dlg-pause"),
    resume: openResume,
    reset: () => openDialog("dlg-reset"),
    force: forceComplete,
    upload: () => { $("upload-report").replaceChildren(); openDialog("dlg-upload"); },
    download: () => openDialog("dlg-download"),
    delete: deleteRecords,
  }[op];
}

function wire() {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => { signOut(); notice("Signed out."); });
  for (const button of document.querySelectorAll(".toolbar button")) {
    const handler = opening(button.id.replace("op-", ""));
    button.addEventListener("click", () => handler());
  }
  for (const button of document.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
  $("pause-form").addEventListener("submit", pause);
  $("resume-form").addEventListener("submit", resume);
  $("reset-form").addEventListener("submit", reset);
  $("upload-form").addEventListener("submit", upload);
  $("download-form").addEventListener("submit", download);
  $("diag-run").addEventListener("click", diagnostics);
  $("pauses-run").addEventListener("click", pauseHistory);
  window.addEventListener("hashchange", route);
}

async function boot() {
  wire();
  if (sessionStorage.getItem(TOKEN_KEY)) {
    try {
      await loadMe();
    } catch (error) {
      signOut(error.message);
      return;
    }
  }
  if (!state.me) { signOut(); return; }
  route();
}

boot();
