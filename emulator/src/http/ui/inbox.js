// The inbox: lists captured emails and SMS newest first and adds new ones as the emulator
// captures them (server-sent events from /messages/stream). After the stream opens (again),
// the list is fetched, so nothing captured while it was closed is missed; ids dedupe.

const els = {
  list: document.getElementById('list'),
  empty: document.getElementById('list-empty'),
  detail: document.getElementById('detail'),
  to: document.getElementById('filter-to'),
  kind: document.getElementById('filter-kind'),
  live: document.getElementById('live'),
  clear: document.getElementById('clear'),
};

const initial = new URLSearchParams(location.search);
const state = {
  to: (initial.get('to') || '').trim(),
  kind: ['email', 'sms'].includes(initial.get('kind')) ? initial.get('kind') : '',
  messages: [], // newest first
  byId: new Map(),
  order: new Map(), // id -> arrival rank, to order messages created in the same millisecond
  rank: 0,
  fresh: new Set(),
  selected: null,
  loaded: false,
  error: null,
  gen: 0, // bumped on every filter change: answers for an older filter are dropped
  source: null,
  statusTimer: 0,
};
els.to.value = state.to;
els.kind.value = state.kind;

const LIVE_TEXT = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline' };
function setLive(s) {
  els.live.dataset.state = s;
  els.live.textContent = LIVE_TEXT[s];
}

/** (Re)opens the stream for the current filter; `fresh` also forgets the listed messages. */
function connect(fresh) {
  const gen = ++state.gen;
  if (state.source) state.source.close();
  clearTimeout(state.statusTimer);
  if (fresh) {
    state.messages = [];
    state.byId.clear();
    state.order.clear();
    state.fresh.clear();
    state.loaded = false;
    state.error = null;
    render();
  }
  setLive('connecting');
  const source = new EventSource(API + '/messages/stream' + query({ to: state.to, kind: state.kind }));
  state.source = source;
  source.addEventListener('open', () => {
    if (gen !== state.gen) return;
    clearTimeout(state.statusTimer);
    setLive('live');
    load(gen);
  });
  source.addEventListener('message', (ev) => {
    if (gen !== state.gen) return;
    let m;
    try { m = JSON.parse(ev.data); } catch (_) { return; }
    merge([m], true);
  });
  source.addEventListener('error', () => {
    if (gen !== state.gen) return;
    clearTimeout(state.statusTimer);
    if (source.readyState === EventSource.CLOSED) {
      // Refused (e.g. the emulator stopped): try again from scratch in a while.
      setLive('offline');
      state.statusTimer = setTimeout(() => { if (gen === state.gen) connect(false); }, 3000);
      return;
    }
    // The server ends each stream after a few seconds and the browser reconnects at once:
    // only say so when that takes a while.
    state.statusTimer = setTimeout(() => {
      if (gen === state.gen && source.readyState !== EventSource.OPEN) setLive('reconnecting');
    }, 2000);
  });
}

async function load(gen) {
  try {
    const body = await api('/messages' + query({ to: state.to, kind: state.kind, limit: 200 }));
    if (gen !== state.gen) return;
    state.loaded = true;
    state.error = null;
    merge(body.data.slice().reverse(), false);
  } catch (e) {
    if (gen !== state.gen) return;
    state.error = e.message;
    render();
  }
}

/** Adds messages (oldest first) not shown yet. */
function merge(list, live) {
  for (const m of list) {
    if (state.byId.has(m.id)) continue;
    state.byId.set(m.id, m);
    state.order.set(m.id, ++state.rank);
    state.messages.push(m);
    if (live) state.fresh.add(m.id);
  }
  state.messages.sort((a, b) => (b.created_at - a.created_at) || (state.order.get(b.id) - state.order.get(a.id)));
  if ((state.selected === null || !state.byId.has(state.selected)) && state.messages.length) {
    state.selected = state.messages[0].id;
  }
  render();
}

function preview(m) {
  if (m.subject) return m.subject;
  return (m.body_text || '').split('\n')[0];
}

function row(m) {
  const selected = m.id === state.selected;
  const li = h('li', {
    testid: 'message-row',
    role: 'option',
    'aria-selected': String(selected),
    tabIndex: selected ? 0 : -1,
    class: state.fresh.has(m.id) ? 'fresh' : '',
    onclick: () => select(m.id),
    onkeydown: (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); select(m.id); }
    },
  },
  h('span', { class: 'row-to', testid: 'message-row-to', text: m.to, title: m.to }),
  h('span', { class: 'row-time' }, timeEl(m.created_at, true)),
  h('span', { class: 'row-subject', text: preview(m) }),
  h('span', { class: 'row-meta' },
    h('span', { class: 'badge ' + (m.kind === 'sms' ? 'warn' : 'info'), text: m.kind === 'sms' ? 'SMS' : 'Email' }),
    m.code ? h('span', { class: 'row-code', testid: 'message-row-code', text: m.code }) : null));
  li.dataset.id = m.id;
  return li;
}

function render() {
  els.list.replaceChildren(...state.messages.map(row));
  state.fresh.clear(); // highlight once
  let empty = '';
  if (state.error) empty = 'Cannot load messages: ' + state.error;
  else if (state.loaded && !state.messages.length) {
    empty = state.to
      ? `No messages to ${state.to} yet. New ones appear here as they are sent.`
      : 'No messages yet. Emails and SMS the emulator sends appear here as they are sent.';
  }
  els.empty.textContent = empty;
  els.empty.hidden = !empty;
  els.list.hidden = !state.messages.length;
  renderDetail();
}

function renderDetail() {
  const m = state.byId.get(state.selected);
  if (!m) {
    delete els.detail.dataset.id;
    els.detail.replaceChildren(h('div', { class: 'empty', text: 'Select a message to read it.' }));
    return;
  }
  if (els.detail.dataset.id === m.id) return; // keep scroll position and iframe
  els.detail.dataset.id = m.id;
  const parts = [
    h('h2', { testid: 'message-subject', text: m.subject || (m.kind === 'sms' ? 'SMS' : '(no subject)') }),
    h('div', { class: 'meta' },
      h('span', {}, 'To ', h('b', { testid: 'message-to', text: m.to })),
      h('span', {}, 'Sent ', h('b', { testid: 'message-time' }, timeEl(m.created_at, false))),
      h('span', {}, m.kind === 'sms' ? 'SMS' : 'Email', ' · ', h('code', { text: m.template }))),
  ];
  const extract = [];
  if (m.code) {
    extract.push(h('div', { class: 'box' },
      h('span', { class: 'label', text: 'Code' }),
      h('span', { class: 'code-value', testid: 'message-code', text: m.code }),
      copyButton(m.code, 'copy-code')));
  }
  if (m.link) {
    const href = safeHref(m.link);
    const link = href
      ? h('a', { class: 'link-value', testid: 'message-link', href, target: '_blank', rel: 'noopener noreferrer', text: m.link })
      : h('span', { class: 'link-value', testid: 'message-link', text: m.link });
    extract.push(h('div', { class: 'box link' }, h('span', { class: 'label', text: 'Link' }), link, copyButton(m.link, 'copy-link')));
  }
  if (extract.length) parts.push(h('div', { class: 'extract' }, extract));
  if (m.body_html) {
    // No sandbox tokens: no scripts, no forms, no navigation, an opaque origin.
    const frame = document.createElement('iframe');
    frame.setAttribute('sandbox', '');
    frame.setAttribute('referrerpolicy', 'no-referrer');
    frame.title = 'HTML body';
    frame.dataset.testid = 'message-html';
    frame.srcdoc = m.body_html;
    parts.push(h('div', { class: 'section-title', text: 'HTML' }), frame);
  }
  parts.push(h('div', { class: 'section-title', text: 'Text' }), h('pre', { class: 'text', testid: 'message-text', text: m.body_text }));
  els.detail.replaceChildren(...parts);
}

function copyButton(value, testid) {
  return h('button', {
    type: 'button',
    class: 'small',
    testid,
    text: 'Copy',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
        flash('Copied');
      } catch (_) {
        flash('The browser did not allow copying', true);
      }
    },
  });
}

function select(id) {
  state.selected = id;
  render();
  const li = els.list.querySelector('li[aria-selected="true"]');
  if (li) li.focus({ preventScroll: false });
}

els.list.addEventListener('keydown', (ev) => {
  if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
  ev.preventDefault();
  const i = state.messages.findIndex((m) => m.id === state.selected);
  const next = state.messages[Math.min(state.messages.length - 1, Math.max(0, i + (ev.key === 'ArrowDown' ? 1 : -1)))];
  if (next) select(next.id);
});

function applyFilters() {
  const to = els.to.value.trim();
  const kind = els.kind.value;
  if (to === state.to && kind === state.kind) return;
  state.to = to;
  state.kind = kind;
  state.selected = null;
  setPageQuery({ to, kind });
  connect(true);
}
let filterTimer = 0;
els.to.addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(applyFilters, 300);
});
els.to.addEventListener('change', applyFilters);
els.kind.addEventListener('change', applyFilters);

els.clear.addEventListener('click', async () => {
  if (!confirm('Delete every captured message?')) return;
  try {
    await api('/messages', { method: 'DELETE' });
    state.selected = null;
    connect(true);
    flash('Inbox emptied');
  } catch (e) {
    flash(e.message, true);
  }
});

connect(true);
