// Home: where to go, with a line of numbers for each place, and the instance's public facts.

function setStat(id, text) {
  document.getElementById(id).textContent = text;
}
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

async function load() {
  const [instance, messages, jobs, deliveries] = await Promise.all([
    api('/instance'),
    api('/messages?limit=500'),
    api('/jobs?limit=1'),
    api('/webhooks/deliveries?limit=1000'),
  ]);
  const n = messages.data.length;
  setStat('stat-inbox', n ? `${n === 500 ? '500+' : n} ${n === 1 ? 'message' : 'messages'}, newest ${fmtTime(messages.data[0].created_at)}` : 'No messages yet');
  const byState = {};
  for (const c of jobs.counts) byState[c.state] = (byState[c.state] || 0) + c.count;
  setStat('stat-jobs', ['queued', 'running', 'done', 'dead'].map((s) => `${byState[s] || 0} ${s}`).join(' · '));
  const failed = deliveries.data.filter((a) => !a.succeeded).length;
  setStat('stat-webhooks', deliveries.data.length
    ? `${plural(deliveries.data.length, 'attempt', 'attempts')}, ${failed} failed`
    : 'No deliveries yet');
  const facts = [
    ['Frontend API', instance.frontend_api_url],
    ['Backend API', instance.backend_api_url],
    ['Control API', instance.frontend_api_url + API],
    ['Publishable key', instance.publishable_key],
    ['JWKS', instance.jwks_url],
    ['Instance id', instance.id],
  ];
  document.getElementById('facts').replaceChildren(...facts.flatMap(([k, v]) => [
    h('dt', { text: k }),
    h('dd', { class: 'mono', text: v || '—' }),
  ]));
}

poll(load, 5000, () => true);
