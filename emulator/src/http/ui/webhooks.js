// Webhook deliveries: every attempt with its outcome, and a replay per attempt (which sends
// the same event to the same endpoint again, as a new job).

const LIMIT = 200;
const els = {
  eventType: document.getElementById('filter-event-type'),
  succeeded: document.getElementById('filter-succeeded'),
  auto: document.getElementById('auto'),
  refresh: document.getElementById('refresh'),
  endpoints: document.getElementById('endpoints'),
  deliveries: document.getElementById('deliveries'),
  empty: document.getElementById('deliveries-empty'),
  title: document.getElementById('deliveries-title'),
};

const initial = new URLSearchParams(location.search);
const filters = {
  event_type: (initial.get('event_type') || '').trim(),
  succeeded: ['true', 'false'].includes(initial.get('succeeded')) ? initial.get('succeeded') : '',
};
els.eventType.value = filters.event_type;
els.succeeded.value = filters.succeeded;
const openExcerpts = new Set();
let last = '';

async function load() {
  const want = { ...filters };
  const [endpoints, deliveries] = await Promise.all([
    api('/webhooks/endpoints'),
    api('/webhooks/deliveries' + query({ ...want, limit: LIMIT })),
  ]);
  if (want.event_type !== filters.event_type || want.succeeded !== filters.succeeded) return;
  const seen = JSON.stringify([endpoints, deliveries]);
  if (seen === last) return; // unchanged: keep the DOM as it is
  last = seen;
  const urls = new Map(endpoints.data.map((e) => [e.id, e.url]));
  renderEndpoints(endpoints.data);
  renderDeliveries(deliveries.data, urls);
}

function renderEndpoints(endpoints) {
  const rows = endpoints.map((e) => h('tr', {},
    h('td', { class: 'mono small', text: e.id }),
    h('td', { class: 'mono small', text: e.url }),
    h('td', { text: e.events && e.events.length ? e.events.join(', ') : 'all events' }),
    h('td', { class: 'time' }, timeEl(e.created_at))));
  if (!rows.length) {
    rows.push(h('tr', {}, h('td', {
      colSpan: 4,
      class: 'muted',
      text: 'No endpoints. Start the emulator with --webhook-url, or POST /_emulator/v1/webhooks/endpoints {"url": "…"}.',
    })));
  }
  els.endpoints.replaceChildren(...rows);
}

function statusBadge(a) {
  if (a.status_code === null || a.status_code === undefined) {
    return h('span', { class: 'badge bad', text: 'no response' });
  }
  return h('span', { class: 'badge ' + (a.succeeded ? 'ok' : 'bad'), text: String(a.status_code) });
}

function excerpt(a, dashIfNone) {
  const text = a.response_excerpt;
  if (!text) return dashIfNone ? h('span', { class: 'muted', text: '—' }) : null;
  if (text.length <= 60 && !text.includes('\n')) return h('code', { text });
  return h('details', {
    open: openExcerpts.has(a.id),
    ontoggle: (ev) => { if (ev.target.open) openExcerpts.add(a.id); else openExcerpts.delete(a.id); },
  }, h('summary', {}, h('code', { class: 'excerpt', text: text.slice(0, 60) })), h('pre', { text }));
}

function renderDeliveries(attempts, urls) {
  const what = [filters.event_type, filters.succeeded === 'true' ? 'succeeded' : filters.succeeded === 'false' ? 'failed' : '']
    .filter(Boolean).join(', ');
  els.title.textContent = 'Delivery attempts' + (what ? `: ${what}` : '') + (attempts.length === LIMIT ? ` (newest ${LIMIT})` : '');
  els.deliveries.replaceChildren(...attempts.map((a) => {
    const tr = h('tr', {},
      h('td', { class: 'time' }, timeEl(a.created_at, true)),
      h('td', {}, h('code', { text: a.event_type }), h('span', { class: 'sub mono', text: a.event_id })),
      h('td', { class: 'wrap mono small', text: urls.get(a.endpoint_id) || a.endpoint_id, title: a.endpoint_id }),
      h('td', { class: 'nowrap' },
        h('span', { testid: 'delivery-status' }, statusBadge(a)),
        h('span', { class: 'sub' },
          `attempt ${a.attempt} · `,
          h('span', { testid: 'delivery-duration', text: `${a.duration_ms} ms` }))),
      h('td', { class: 'wrap wide' },
        a.error ? h('div', { class: 'err', testid: 'delivery-error', text: a.error }) : null,
        h('div', { testid: 'delivery-response' }, excerpt(a, !a.error))),
      h('td', { class: 'mono small', testid: 'delivery-request-id', text: a.request_id || '—' }),
      h('td', {}, h('button', { type: 'button', class: 'small', testid: 'replay', text: 'Replay', onclick: (ev) => replay(a, ev.currentTarget) })));
    tr.dataset.testid = 'delivery-row';
    tr.dataset.id = a.id;
    return tr;
  }));
  els.empty.textContent = attempts.length ? '' : 'No delivery attempts match.';
  els.empty.hidden = attempts.length > 0;
}

async function replay(a, button) {
  button.disabled = true;
  try {
    const job = await api(`/webhooks/deliveries/${encodeURIComponent(a.id)}/replay`, { method: 'POST' });
    flash(`Replay of ${a.event_type} queued as job ${job.id}`);
    refresh(true);
  } catch (e) {
    flash('Replay failed: ' + e.message, true);
  } finally {
    button.disabled = false;
  }
}

function setFilters() {
  filters.event_type = els.eventType.value.trim();
  filters.succeeded = els.succeeded.value;
  setPageQuery(filters);
  last = '';
  refresh(true);
}
let typing = 0;
els.eventType.addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(setFilters, 300); });
els.eventType.addEventListener('change', setFilters);
els.succeeded.addEventListener('change', setFilters);
els.refresh.addEventListener('click', () => refresh(true));
els.auto.addEventListener('change', () => refresh());

let forced = false;
const tick = poll(load, 2000, () => els.auto.checked || forced);
function refresh(force) {
  forced = !!force;
  tick().finally(() => { forced = false; });
}
