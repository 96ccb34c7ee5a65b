// The account-health page's script: countdown, plan rows, and a poll that redraws the case.
// Every form also works without it.
"use strict";

function formatLeft(ms) {
  if (ms <= 0) return "the deadline has passed";
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return (d ? d + " d " : "") + pad(h) + " h " + pad(m) + " min " + pad(sec) + " s";
}

function tick() {
  const el = document.getElementById("countdown");
  if (el) el.textContent = formatLeft(Date.parse(el.dataset.deadline) - Date.now());
}

function renumber(fieldset) {
  const label = fieldset.querySelector("legend").textContent;
  fieldset.querySelectorAll(".row").forEach((row, i) => {
    const input = row.querySelector("input");
    const id = fieldset.dataset.rows + "-" + (i + 1);
    input.id = id;
    row.querySelector("label").htmlFor = id;
    row.querySelector("label").textContent = label + " " + (i + 1);
    row.querySelector(".remove-row").setAttribute("aria-label", "Remove " + label.toLowerCase() + " " + (i + 1));
  });
}

document.addEventListener("click", (event) => {
  const target = event.target;
  if (!(target instanceof HTMLElement)) return;
  const fieldset = target.closest("fieldset.rows");
  if (!fieldset) return;
  if (target.classList.contains("add-row")) {
    const rows = fieldset.querySelectorAll(".row");
    const row = rows[rows.length - 1].cloneNode(true);
    row.querySelector("input").value = "";
    target.before(row);
    renumber(fieldset);
    row.querySelector("input").focus();
  } else if (target.classList.contains("remove-row")) {
    const rows = fieldset.querySelectorAll(".row");
    if (rows.length > 1) target.closest(".row").remove();
    else rows[0].querySelector("input").value = "";
    renumber(fieldset);
    markDirty();
  }
});

function markDirty() {
  const form = document.getElementById("plan-form");
  if (form) form.dataset.dirty = "1";
}
document.addEventListener("input", (event) => {
  if (event.target instanceof HTMLElement && event.target.closest("#plan-form")) markDirty();
});

let lastVersion = null;
const POLL_MS = 3000;

function showStale(text) {
  let note = document.getElementById("stale");
  if (!text) {
    if (note) note.remove();
    return;
  }
  if (!note) {
    note = document.createElement("p");
    note.id = "stale";
    note.className = "alert error";
    note.setAttribute("role", "status");
    document.getElementById("live").before(note);
  }
  note.textContent = text;
}

// One poll at a time, each scheduled after the last answer: answers never arrive out of order.
async function poll(failures) {
  const live = document.getElementById("live");
  if (!live) return;
  if (document.hidden) {
    setTimeout(() => poll(failures), POLL_MS);
    return;
  }
  let next = POLL_MS;
  try {
    const response = await fetch(live.dataset.liveUrl, {
      credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store",
    });
    if (response.status === 401) {
      location.reload();  // signed out elsewhere, or the token was revoked: show sign-in
      return;
    }
    if (!response.ok) throw new Error("status " + response.status);
    const state = await response.json();
    showStale(null);
    failures = 0;
    if (state.version !== lastVersion) {
      lastVersion = state.version;
      live.innerHTML = state.live_html;
      tick();
      const section = document.getElementById("plan-section");
      const form = document.getElementById("plan-form");
      // Never redraw a plan the seller is typing; a changed mode waits until the form is clean.
      if (section && section.dataset.planMode !== state.plan_mode && !(form && form.dataset.dirty)) {
        section.innerHTML = state.plan_html;
        section.dataset.planMode = state.plan_mode;
      }
    }
  } catch (err) {
    failures += 1;
    showStale("We cannot refresh your case right now; what you see may be out of date.");
    next = Math.min(POLL_MS * 2 ** failures, 60000);
  }
  setTimeout(() => poll(failures), next);
}

document.addEventListener("DOMContentLoaded", () => {
  tick();
  setInterval(tick, 1000);
  poll(0);
});
