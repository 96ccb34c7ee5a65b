// The console's script: refreshes the parts of a page marked data-live-section from the
// page's data-live-url, leaving alone any part where a form is being filled in or that
// holds the focus. Every form works without it.
"use strict";

const POLL_MS = 4000;

document.addEventListener("input", (event) => {
  const form = event.target instanceof Element ? event.target.closest("form") : null;
  if (form) form.dataset.dirty = "1";
});

// Someone is working in this part: typing in one of its forms, or with the focus inside it.
function busy(section) {
  const active = document.activeElement;
  if (active && active !== document.body && section.contains(active)) return true;
  return section.querySelector("form[data-dirty]") !== null;
}

function redraw(section, part) {
  // What the person opened stays open: the new HTML has the same details in the same order.
  const open = [];
  section.querySelectorAll("details").forEach((d, i) => { if (d.open) open.push(i); });
  section.innerHTML = part.html;
  section.dataset.version = part.version;
  const details = section.querySelectorAll("details");
  open.forEach((i) => { if (details[i]) details[i].open = true; });
}

function showStale(root, text) {
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
    const status = document.getElementById("live-status");
    (status || root.firstChild).before(note);
  }
  note.textContent = text;
}

// One poll at a time, each scheduled after the last answer: answers never arrive out of order.
async function poll(root, failures) {
  if (document.hidden) {
    setTimeout(() => poll(root, failures), POLL_MS);
    return;
  }
  let next = POLL_MS;
  try {
    const response = await fetch(root.dataset.liveUrl, {
      credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store",
    });
    if (response.status === 401) {
      location.reload();  // signed out elsewhere, or the token was revoked: show sign-in
      return;
    }
    if (!response.ok) throw new Error("status " + response.status);
    const state = await response.json();
    showStale(root, null);
    failures = 0;
    let changed = false;
    let waiting = false;
    for (const [id, part] of Object.entries(state.sections || {})) {
      const section = document.getElementById(id);
      if (!section || section.dataset.version === part.version) continue;
      if (busy(section)) {
        waiting = true;
        continue;
      }
      redraw(section, part);
      changed = true;
    }
    const status = document.getElementById("live-status");
    if (status && (changed || waiting)) {
      status.textContent = state.summary + (waiting ? " Newer details wait until you finish the form you are in." : "");
    }
  } catch (err) {
    failures += 1;
    showStale(root, "This page cannot refresh right now; what you see may be out of date.");
    next = Math.min(POLL_MS * 2 ** failures, 60000);
  }
  setTimeout(() => poll(root, failures), next);
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.querySelector("[data-live-url]");
  if (root) setTimeout(() => poll(root, 0), POLL_MS);
});
