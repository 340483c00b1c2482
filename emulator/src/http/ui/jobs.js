// Jobs: the counts by kind and state, and the newest jobs, filtered by state and kind.

const STATES = ['queued', 'running', 'done', 'dead'];
const STATE_BADGE = { queued: 'info', running: 'warn', done: 'ok', dead: 'bad' };
const LIMIT = 200;
const openPayloads = new Set();
let last = '';

const els = {
  state: document.getElementById('filter-state'),
  kind: document.getElementById('filter-kind'),
  auto: document.getElementById('auto'),
  refresh: document.getElementById('refresh'),
  counts: document.getElementById('counts'),
  jobs: document.getElementById('jobs'),
  empty: document.getElementById('jobs-empty'),
  title: document.getElementById('jobs-title'),
};

const initial = new URLSearchParams(location.search);
const filters = {
  state: STATES.includes(initial.get('state')) ? initial.get('state') : '',
  kind: initial.get('kind') || '',
};
els.state.value = filters.state;
ensureKindOption(filters.kind);
els.kind.value = filters.kind;

function ensureKindOption(kind) {
  if (!kind || [...els.kind.options].some((o) => o.value === kind)) return;
  els.kind.append(h('option', { value: kind, text: kind }));
}

function setFilters(state, kind) {
  filters.state = state;
  filters.kind = kind;
  els.state.value = state;
  ensureKindOption(kind);
  els.kind.value = kind;
  setPageQuery(filters);
  last = '';
  refresh(true);
}

async function load() {
  const want = { ...filters };
  const body = await api('/jobs' + query({ ...want, limit: LIMIT }));
  if (want.state !== filters.state || want.kind !== filters.kind) return;
  const seen = JSON.stringify(body);
  if (seen === last) return; // unchanged: keep the DOM (open payloads, selections) as it is
  last = seen;
  renderCounts(body.counts);
  renderJobs(body.data);
}

function renderCounts(counts) {
  const byKind = new Map();
  for (const c of counts) {
    if (!byKind.has(c.kind)) byKind.set(c.kind, {});
    byKind.get(c.kind)[c.state] = c.count;
    ensureKindOption(c.kind);
  }
  const countButton = (kind, state, n) => h('button', {
    type: 'button',
    class: 'count',
    text: String(n),
    disabled: !n,
    title: n ? `Show ${state || 'all'} ${kind || ''} jobs`.replace(/\s+/g, ' ') : undefined,
    onclick: () => setFilters(state, kind),
  });
  const rows = [...byKind.entries()].map(([kind, byState]) => {
    const total = STATES.reduce((t, s) => t + (byState[s] || 0), 0);
    const tr = h('tr', {},
      h('td', {}, h('code', { text: kind })),
      STATES.map((s) => h('td', { class: 'num' }, countButton(kind, s, byState[s] || 0))),
      h('td', { class: 'num' }, countButton(kind, '', total)));
    tr.dataset.testid = 'job-count-row';
    return tr;
  });
  if (!rows.length) rows.push(h('tr', {}, h('td', { colSpan: 6, class: 'muted', text: 'No jobs yet.' })));
  els.counts.replaceChildren(...rows);
}

function renderJobs(jobs) {
  const what = [filters.state, filters.kind].filter(Boolean).join(' ');
  els.title.textContent = (what ? `Jobs: ${what}` : 'Jobs') + (jobs.length === LIMIT ? ` (newest ${LIMIT})` : '');
  els.jobs.replaceChildren(...jobs.map((j) => {
    // A queued job shows when it is due; any other, when it last changed.
    const when = j.state === 'queued'
      ? [h('span', { class: 'sub', text: 'due' }), timeEl(j.run_at)]
      : [h('span', { class: 'sub', text: { running: 'started', dead: 'gave up' }[j.state] || 'finished' }), timeEl(j.updated_at)];
    const facts = {
      priority: j.priority,
      created_at: fmtTime(j.created_at),
      run_at: fmtTime(j.run_at),
      updated_at: fmtTime(j.updated_at),
      lease_until: j.lease_until ? fmtTime(j.lease_until) : null,
      payload: j.payload,
    };
    const tr = h('tr', {},
      h('td', { class: 'num mono', text: j.id }),
      h('td', {}, h('code', { text: j.kind })),
      h('td', {}, h('span', { class: 'badge ' + (STATE_BADGE[j.state] || ''), text: j.state })),
      h('td', { class: 'num', text: `${j.attempts} / ${j.max_attempts}` }),
      h('td', { class: 'time' }, when),
      h('td', { class: 'wrap' }, j.last_error ? h('span', { class: 'err', text: j.last_error }) : h('span', { class: 'muted', text: '—' })),
      h('td', { class: 'mono small', text: j.request_id || '—' }),
      h('td', {}, h('details', {
        open: openPayloads.has(j.id),
        ontoggle: (ev) => { if (ev.target.open) openPayloads.add(j.id); else openPayloads.delete(j.id); },
      }, h('summary', { text: 'show' }), h('pre', { text: JSON.stringify(facts, null, 2) }))));
    tr.dataset.testid = 'job-row';
    return tr;
  }));
  els.empty.textContent = jobs.length ? '' : 'No jobs match.';
  els.empty.hidden = jobs.length > 0;
}

els.state.addEventListener('change', () => setFilters(els.state.value, filters.kind));
els.kind.addEventListener('change', () => setFilters(filters.state, els.kind.value));
els.refresh.addEventListener('click', () => refresh(true));
els.auto.addEventListener('change', () => refresh());

let forced = false;
const tick = poll(load, 2000, () => els.auto.checked || forced);
function refresh(force) {
  forced = !!force;
  tick().finally(() => { forced = false; });
}
