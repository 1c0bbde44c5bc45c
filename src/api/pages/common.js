"use strict";
// Shared by the pages: element helpers and the JSON API client. Texts are only ever inserted
// with textContent; requests carry X-Requested-With so that a 401 does not bring up the
// browser's own password dialog over the page's sign-in form.
const $ = (id) => document.getElementById(id);

// The pages speak Italian, as the institute's staff do; English on request (?lang=en or the
// header's button), remembered in this browser. Static texts are written in Italian in the
// HTML with their English beside them: data-en (the text), data-en-<attribute> (placeholder,
// aria-label, title); texts made by the scripts are tr("italiano", "English").
const LANG_KEY = "centralino-lang";
const LANG = (() => {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "it" || asked === "en") localStorage.setItem(LANG_KEY, asked);
  return localStorage.getItem(LANG_KEY) === "en" ? "en" : "it";
})();
const tr = (it, en) => (LANG === "en" ? en : it);
const LOCALE = tr("it-IT", "en-GB");
{
  document.documentElement.lang = LANG;
  if (LANG === "en") {
    for (const e of document.querySelectorAll("*")) {
      for (const a of [...e.attributes]) {
        if (a.name === "data-en") e.textContent = a.value;
        else if (a.name.startsWith("data-en-")) e.setAttribute(a.name.slice(8), a.value);
      }
    }
  }
  const header = document.querySelector("header");
  if (header) {
    const other = tr("en", "it");
    header.append(el("button", {
      id: "lang", type: "button", lang: other, text: tr("English", "Italiano"),
      onclick: () => { localStorage.setItem(LANG_KEY, other); location.search = ""; },
    }));
  }
}

// Dates and times as read in Italy: Rome's time, with the weekday.
const ROME = { timeZone: "Europe/Rome" };
const fmtDateTime = (t) => new Date(t).toLocaleString(LOCALE,
  { ...ROME, weekday: "short", day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit" });
const fmtTime = (t) => new Date(t).toLocaleTimeString(LOCALE, ROME);
// An agenda's local time (2026-12-09T09:30:00, already Rome's) with its weekday.
const fmtLocal = (s) => {
  const [d, t] = s.split("T");
  const [y, m, day] = d.split("-").map(Number);
  const weekday = new Date(Date.UTC(y, m - 1, day)).toLocaleDateString(LOCALE, { timeZone: "UTC", weekday: "short" });
  return `${weekday} ${String(day).padStart(2, "0")}/${String(m).padStart(2, "0")}/${y} ${t.slice(0, 5)}`;
};
// The API's words (states, sections of the regional centres, outcomes), as the pages say them.
const WORDS = {
  state: {
    logged_out: tr("scollegato", "logged out"), available: tr("disponibile", "available"), ringing: tr("squilla", "ringing"),
    on_call: tr("in conversazione", "on a call"), reserved: tr("riservato a una richiamata", "kept for a callback"), wrap_up: tr("post-chiamata", "wrap-up"), paused: tr("in pausa", "paused"),
  },
  ticketSection: {
    pensions: tr("Pensioni", "Pensions"), income_support: tr("Prestazioni a sostegno del reddito", "Income-support benefits"),
    contributors: tr("Contribuenti", "Contributors"),
  },
  ticketStatus: { open: tr("aperta", "open"), taken: tr("presa in carico", "taken"), answered: tr("evasa", "answered"), returned: tr("restituita", "returned") },
  outcome: {
    resolved: tr("risolta durante la chiamata", "resolved on the call"), ticket_opened: tr("aperta una pratica Linea INPS", "Linea INPS ticket opened"),
    appointment_booked: tr("prenotato un appuntamento", "appointment booked"), transferred: tr("trasferita", "transferred"),
    not_resolved: tr("non risolta", "not resolved"), dropped: tr("linea caduta", "line dropped"),
  },
  contact: { phone: tr("telefono", "phone"), email: "email", pec: "PEC", letter: tr("lettera", "letter") },
  // Pauses the switchboard sets by itself.
  reason: {
    "no answer": tr("non ha risposto", "no answer"), phone: tr("dal telefono", "from the phone"),
    declined: tr("chiamata rifiutata", "call declined"),
    "the browser phone disconnected": tr("telefono nel browser disconnesso", "the browser phone disconnected"),
    "the browser phone did not respond": tr("il telefono nel browser non ha risposto", "the browser phone did not respond"),
    "the browser phone is not connected": tr("telefono nel browser non connesso", "the browser phone is not connected"),
  },
  language: { it: tr("italiano", "Italian"), en: tr("inglese", "English"), de: tr("tedesco", "German") },
};
const say = (kind, id) => WORDS[kind][id] || id;

// Names instead of ids (GET /api/names), loaded once signed in: sections, regions, provinces,
// agencies, people, and the label of each number called.
let NAMES = { sections: {}, regions: {}, provinces: {}, agencies: {}, people: {}, numbers: {} };
async function loadNames() { NAMES = await api("GET", "/api/names"); }
const nameOf = (kind, id) => (id && NAMES[kind][id]) || id || "";
// A ticket number in groups of three digits, as it is read aloud to the caller.
const groupDigits = (n) => String(n).replace(/\B(?=(\d{3})+$)/g, " ");

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
    // The API answers its errors in the page's language.
    headers: Object.assign({ "X-Requested-With": "fetch", "Accept-Language": LANG }, body ? { "Content-Type": "application/json" } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  // Refused once signed in: the session ended (sign-out elsewhere, expiry, a restart).
  if (r.status === 401 && path !== "/api/session") signedOut();
  if (!r.ok) throw Object.assign(new Error((data && data.error) || r.statusText), { status: r.status });
  return data;
}

// The sign-in form of every page (an empty <form id="signin"></form> in the page), and what
// follows it: `start(principal)` once signed in, or at once when the session cookie is still
// good. `roles` (optional) are the roles the page is for; others are told `refused`.
function signIn(start, roles, refused) {
  const form = $("signin");
  form.replaceChildren(
    el("h2", { text: tr("Accesso", "Sign in") }),
    el("label", { for: "username", text: tr("Nome utente", "User name") }),
    el("input", { id: "username", autocomplete: "username", required: "" }),
    el("label", { for: "password", text: "Password" }),
    el("input", { id: "password", type: "password", autocomplete: "current-password", required: "" }),
    el("button", { type: "submit", id: "signin-button", text: tr("Accedi", "Sign in") }),
    el("p", { class: "error", id: "signin-error", role: "alert" }));
  const allowed = (p) => !roles || roles.includes(p.role);
  const go = (p) => { form.hidden = true; return start(p); };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const p = await api("POST", "/api/session", { username: $("username").value, password: $("password").value });
      if (!allowed(p)) throw new Error(refused);
      $("signin-error").textContent = "";
      await go(p);
    } catch (err) { $("signin-error").textContent = err.message; }
  });
  api("GET", "/api/session").then((p) => { if (allowed(p)) return go(p); }).catch(() => {});
}

// Back to the sign-in form when the session has ended, saying why, instead of a page that
// looks alive and no longer changes. The reason survives the reload in sessionStorage.
const ENDED = "centralino-session-ended";
let ending = false;
function signedOut() {
  if (ending) return;
  ending = true;
  sessionStorage.setItem(ENDED, tr("La sessione è terminata (uscita, scaduta o centralino riavviato): acceda di nuovo.",
    "Your session has ended (signed out, expired, or the switchboard restarted): sign in again."));
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
