// The emulator's inbox in a real browser: Debian's Chromium driven by playwright-core.
//
//   cargo build -p latchkey-emulator --bin auth-emulator
//   (cd tests/ui && npm ci)
//   node --test tests/ui/*.test.mjs
//
// Environment: AUTH_EMULATOR_BIN (default target/debug/auth-emulator under the repository
// root), CHROMIUM_PATH (default /usr/bin/chromium), UI_SCREENSHOT (default /tmp/inbox.png).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { control as controlApi, startEmulator } from '../interop/emulator.mjs';
import { chromiumOptions } from '../interop/chromium.mjs';

const SCREENSHOT = process.env.UI_SCREENSHOT || path.join(os.tmpdir(), 'inbox.png');
const WAIT = { timeout: 15_000 };

let emulator; // startEmulator(): { url, stop(), … } (tests/interop/emulator.mjs kills it if the run dies)
let browser;
let page;
const pageErrors = [];

/** SIGTERM must stop the emulator cleanly (exit 0, within the harness's bound). */
async function stopEmulator(emu) {
  if (emu) await emu.stop();
}


/** Starts a sign-up with an email code, as a native client would: the emulator sends an email. */
async function signUp(email) {
  const res = await fetch(`${emulator.url}/v1/client/sign_ups?_is_native=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email_address: email, password: 'lk-Test-pass-4921', strategy: 'email_code' }),
  });
  assert.equal(res.status, 200, `sign-up for ${email}: ${await res.text()}`);
}

/** The control API. A request other than a GET sends a JSON body (`{}` if none), as it requires. */
/** A control-API call (tests/interop/emulator.mjs: JSON bodies, a bound, fails unless 2xx). */
const control = (method, pathAndQuery, body) => controlApi(emulator.url, method, pathAndQuery, body);

const rows = () => page.getByTestId('message-row');
const rowsTo = (email) => rows().filter({ has: page.getByTestId('message-row-to').getByText(email, { exact: true }) });

/** Waits until the listed recipients are exactly `expected` (in any order). */
async function waitForRecipients(expected) {
  const want = [...expected].sort();
  await page.waitForFunction((w) => {
    const shown = [...document.querySelectorAll('[data-testid="message-row-to"]')].map((e) => e.textContent).sort();
    return JSON.stringify(shown) === JSON.stringify(w);
  }, want, WAIT).catch(async (e) => {
    const shown = await page.getByTestId('message-row-to').allTextContents();
    throw new Error(`expected recipients ${JSON.stringify(want)}, shown ${JSON.stringify(shown)}: ${e.message}`);
  });
}

async function openInbox(query = '') {
  await page.goto(`${emulator.url}/_emulator/inbox${query}`);
  await page.locator('[data-testid="live-status"][data-state="live"]').waitFor(WAIT);
}

before(async () => {
  emulator = await startEmulator();
  browser = await chromium.launch(chromiumOptions());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
  page.on('dialog', (d) => { pageErrors.push(`dialog: ${d.message()}`); d.dismiss(); });
});

after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    await stopEmulator(emulator);
  }
});

test('a new email appears without a reload, and the code shown is the one sent', async () => {
  await openInbox();
  await page.getByTestId('inbox-empty').getByText('No messages yet', { exact: false }).waitFor(WAIT);
  // A page-global marker survives only if the page is not reloaded.
  await page.evaluate(() => { window.__noReload = true; });

  await signUp('ui@example.com');

  await rowsTo('ui@example.com').first().waitFor(WAIT);
  assert.equal(await rows().first().getByTestId('message-row-to').textContent(), 'ui@example.com');
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');

  await rows().first().click();
  const latest = await control('GET', '/messages/latest?to=ui@example.com');
  assert.match(latest.code, /^\d{6}$/);
  assert.equal(await page.getByTestId('message-code').textContent(), latest.code);
  assert.equal(await page.getByTestId('message-to').textContent(), 'ui@example.com');
  assert.equal(await page.getByTestId('message-subject').textContent(), latest.subject);
  assert.equal(await page.getByTestId('message-text').textContent(), latest.body_text);
  // The HTML body is rendered, but only inside a sandbox with no permissions.
  const frame = page.getByTestId('message-html');
  assert.equal(await frame.getAttribute('sandbox'), '');
  assert.ok((await frame.getAttribute('srcdoc')).includes(latest.code));
  await page.frameLocator('[data-testid="message-html"]').getByText(latest.code).waitFor(WAIT);

  await page.screenshot({ path: SCREENSHOT, fullPage: true });
});

test('the recipient filter lists only that recipient, live and from the page URL', async () => {
  await signUp('other@example.com');
  await waitForRecipients(['ui@example.com', 'other@example.com']);

  // Typed in any case: the emulator matches emails lower-cased, as stored. The filtering is
  // the API's (`?to=` on the list and on the stream), not the page's.
  const requested = [];
  const onRequest = (r) => requested.push(r.url());
  page.on('request', onRequest);
  await page.getByTestId('filter-to').fill('UI@example.com');
  await waitForRecipients(['ui@example.com']);
  page.off('request', onRequest);
  assert.equal(new URL(page.url()).searchParams.get('to'), 'UI@example.com');
  const paths = requested.map((u) => new URL(u)).map((u) => u.pathname + u.search);
  assert.ok(paths.some((p) => p.startsWith('/_emulator/v1/messages/stream?to=UI%40example.com')), paths.join(' '));
  assert.ok(paths.some((p) => p.startsWith('/_emulator/v1/messages?to=UI%40example.com')), paths.join(' '));
  await page.locator('[data-testid="live-status"][data-state="live"]').waitFor(WAIT);

  // While filtered, new mail to others stays out and new mail to the recipient comes in.
  await signUp('other@example.com');
  await signUp('ui@example.com');
  await waitForRecipients(['ui@example.com', 'ui@example.com']);

  // The filter is read from the page URL.
  await openInbox('?to=other%40example.com');
  assert.equal(await page.getByTestId('filter-to').inputValue(), 'other@example.com');
  await waitForRecipients(['other@example.com', 'other@example.com']);

  // Cleared, it lists everyone again.
  await page.getByTestId('filter-to').fill('');
  await waitForRecipients(['ui@example.com', 'ui@example.com', 'other@example.com', 'other@example.com']);
  assert.equal(new URL(page.url()).search, '');
});

test('an email link is shown as a link, and opening it in the browser verifies the sign-up', async () => {
  await control('PATCH', '/instance', { settings: { email_address: { email_link: true } } });
  const fapi = async (pathAndQuery, form, token) => {
    const res = await fetch(`${emulator.url}${pathAndQuery}?_is_native=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(token ? { authorization: token } : {}) },
      body: new URLSearchParams(form),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `${pathAndQuery}: ${text}`);
    return { body: JSON.parse(text), token: res.headers.get('authorization') || token };
  };
  const email = 'link-ui@example.com';
  const up = await fapi('/v1/client/sign_ups', { email_address: email, password: 'lk-Test-pass-4921' });
  const id = up.body.response.id;
  // Where the browser lands after the link: a page of the emulator's own (loopback is accepted).
  const landing = `${emulator.url}/_emulator/inbox`;
  await fapi(`/v1/client/sign_ups/${id}/prepare_verification`, { strategy: 'email_link', redirect_url: landing }, up.token);

  await openInbox();
  await rowsTo(email).first().click();
  const latest = await control('GET', `/messages/latest?to=${encodeURIComponent(email)}`);
  assert.match(latest.link, /\/v1\/verify\?token=/);
  const shown = page.getByTestId('message-link');
  assert.equal(await shown.textContent(), latest.link);
  assert.equal(await shown.getAttribute('href'), latest.link);

  await page.goto(latest.link);
  await page.waitForURL((u) => u.pathname === '/_emulator/inbox' && u.searchParams.get('__clerk_status') === 'verified', WAIT);
  const after = await fetch(`${emulator.url}/v1/client/sign_ups/${id}?_is_native=true`, { headers: { authorization: up.token } });
  assert.equal((await after.json()).response.status, 'complete');
});

test('message content is shown as text, never run', async () => {
  // The application name goes into every subject and HTML body.
  const evil = '<img src=x onerror="window.__xss=1">Evil & Co';
  await control('PATCH', '/instance', { settings: { application_name: evil } });
  await openInbox();
  await signUp('xss@example.com');
  await rowsTo('xss@example.com').first().waitFor(WAIT);
  await rowsTo('xss@example.com').first().click();
  const subject = await page.getByTestId('message-subject').textContent();
  assert.ok(subject.includes(evil), `subject shown as text: ${subject}`);
  assert.equal(await page.locator('main img').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});

test('the dashboard, jobs and webhooks pages render from the API', async () => {
  await page.goto(`${emulator.url}/_emulator`);
  assert.equal(new URL(page.url()).pathname, '/_emulator/');
  await page.getByTestId('instance').getByText(emulator.url, { exact: true }).first().waitFor(WAIT);
  await page.getByTestId('card-inbox').click();
  await page.waitForURL(/\/_emulator\/inbox$/, WAIT);

  await page.goto(`${emulator.url}/_emulator/jobs?state=done`);
  await page.getByTestId('job-row').first().waitFor(WAIT);
  const states = await page.getByTestId('job-row').locator('.badge').allTextContents();
  assert.ok(states.length > 0 && states.every((s) => s === 'done'), `states: ${states}`);
  await page.getByTestId('job-count-row').filter({ hasText: 'deliver_message' }).waitFor(WAIT);

  await page.goto(`${emulator.url}/_emulator/webhooks`);
  await page.getByTestId('endpoint-table').getByText('No endpoints', { exact: false }).waitFor(WAIT);
  await page.getByText('No delivery attempts match.').waitFor(WAIT);
});

test('no page logged an error or opened a dialog', () => {
  assert.deepEqual(pageErrors, []);
});
