'use strict';
// Shared by every dashboard page. User data only ever reaches the DOM as text (textContent,
// attribute values set by property); nothing here parses HTML.

const API = '/_emulator/v1';

/** Builds an element. `props` are set as properties (`text` sets textContent); children are
 *  nodes or strings (added as text). */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key === 'testid') el.dataset.testid = value;
    else if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key.startsWith('aria-') || key === 'role' || key === 'scope') el.setAttribute(key, value);
    else el[key] = value;
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Calls the control API; throws an Error with the API's own message on failure. Calls that
 * change state are sent as JSON (an empty object when there is nothing to say): the control API
 * takes nothing else, so that pages on other sites cannot drive it.
 */
async function api(path, options = {}) {
  const method = (options.method || 'GET').toUpperCase();
  const headers = { accept: 'application/json' };
  const init = { ...options, headers };
  if (method !== 'GET' && method !== 'HEAD') {
    headers['content-type'] = 'application/json';
    init.body = options.body === undefined ? '{}' : options.body;
  }
  const res = await fetch(API + path, init);
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const e = body && body.errors && body.errors[0];
    throw new Error((e && (e.long_message || e.message)) || `HTTP ${res.status}`);
  }
  return body;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}

/** Mirrors filters into the page URL, so a reload or a shared link keeps them. */
function setPageQuery(params) {
  history.replaceState(null, '', location.pathname + query(params));
}

const pad = (n, w = 2) => String(n).padStart(w, '0');
/** Emulator time (ms; the emulator's clock can run ahead of the wall clock) as local time. */
function fmtTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function fmtClock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function timeEl(ms, short) {
  return h('time', { dateTime: new Date(ms).toISOString(), title: fmtTime(ms), text: short ? fmtClock(ms) : fmtTime(ms) });
}

/** Only http(s) links become clickable. */
function safeHref(url) {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch (_) {
    return null;
  }
}

let flashTimer = 0;
function flash(message, bad) {
  let el = document.getElementById('flash');
  if (!el) {
    el = h('div', { id: 'flash', role: 'status', 'aria-live': 'polite' });
    el.dataset.testid = 'flash';
    document.body.append(el);
  }
  el.className = bad ? 'flash bad' : 'flash';
  el.textContent = message;
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

/** Runs `load` now and every `ms` while `enabled()` says so and the tab is visible. */
function poll(load, ms, enabled) {
  let timer = 0;
  const tick = async () => {
    clearTimeout(timer);
    if (!document.hidden && enabled()) {
      try { await load(); } catch (e) { flash(e.message, true); }
    }
    timer = setTimeout(tick, ms);
  };
  document.addEventListener('visibilitychange', () => { if (!document.hidden) tick(); });
  tick();
  return tick;
}
