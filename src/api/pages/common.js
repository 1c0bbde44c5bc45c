"use strict";
// Shared by the pages: element helpers and the JSON API client. Texts are only ever inserted
// with textContent; requests carry X-Requested-With so that a 401 does not bring up the
// browser's own password dialog over the page's sign-in form.
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function api(method, path, body) {
  const r = await fetch(path, {
    method, credentials: "same-origin",
    headers: Object.assign({ "X-Requested-With": "fetch" }, body ? { "Content-Type": "application/json" } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  // Refused once signed in: the session ended (sign-out elsewhere, expiry, a restart).
  if (r.status === 401 && path !== "/api/session") signedOut();
  if (!r.ok) throw Object.assign(new Error((data && data.error) || r.statusText), { status: r.status });
  return data;
}

// Back to the sign-in form when the session has ended, saying why, instead of a page that
// looks alive and no longer changes. The reason survives the reload in sessionStorage.
const ENDED = "centralino-session-ended";
let ending = false;
function signedOut() {
  if (ending) return;
  ending = true;
  sessionStorage.setItem(ENDED, "Your session has ended (signed out, expired, or the switchboard restarted): sign in again.");
  location.reload();
}
{
  const why = sessionStorage.getItem(ENDED);
  sessionStorage.removeItem(ENDED);
  if (why) document.addEventListener("DOMContentLoaded", () => { const e = $("signin-error"); if (e) e.textContent = why; });
}

// The live stream of /api/events with what every page needs: `onLive(true|false)` when it is
// up or down, `onResumed()` after it came back (changes may have been missed meanwhile: reload
// the lists), and the sign-in form when the server no longer knows the session.
function liveEvents(onLive, onResumed) {
  const events = new EventSource("/api/events");
  let dropped = false;
  events.addEventListener("open", () => {
    onLive(true);
    if (dropped) { dropped = false; onResumed(); }
  });
  events.addEventListener("error", () => {
    dropped = true;
    onLive(false);
    // Closed for good (the server answered, but not with a stream): find out why.
    if (events.readyState === EventSource.CLOSED) {
      fetch("/api/session", { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then((r) => { if (r.status === 401) signedOut(); else setTimeout(() => location.reload(), 2000); })
        .catch(() => setTimeout(() => location.reload(), 2000));
    }
  });
  return events;
}
