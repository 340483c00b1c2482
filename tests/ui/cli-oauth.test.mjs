// The SDK's OAuth round trip with real Chromium as the system browser: `cli-login sign-in
// --oauth google` (the `latchkey` SDK: a one-shot loopback listener, its own `lk_state`, the
// nonce redeemed) prints the provider page instead of opening it (LATCHKEY_BROWSER=none), and
// Chromium (playwright-core) goes there: a person fills in the emulator's mock Google page, or
// picks the account used before, or denies.
//
//   cargo build -p latchkey-emulator --bin auth-emulator && cargo build -p cli-login
//   (cd tests/ui && npm ci) && node --test tests/ui/cli-oauth.test.mjs
//
// CLI_LOGIN_BIN: the cli-login binary (default target/debug/cli-login).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO_ROOT, startEmulator } from '../interop/emulator.mjs';
import { chromiumOptions } from '../interop/chromium.mjs';

const CLI = process.env.CLI_LOGIN_BIN || path.join(REPO_ROOT, 'target', 'debug', 'cli-login');
const WAIT = { timeout: 15_000 };

let emulator;
let browser;
let dir;

before(async () => {
  emulator = await startEmulator();
  dir = mkdtempSync(path.join(tmpdir(), 'cli-oauth-'));
  browser = await chromium.launch(chromiumOptions());
});

after(async () => {
  await browser?.close();
  await emulator?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs cli-login with `args`; resolves `page` with the URL it asks to be opened and `done` with
 * its exit code and output.
 */
function cli(args) {
  const child = spawn(CLI, ['--frontend-api', emulator.url, '--session-file', path.join(dir, 'session.json'), ...args], {
    env: { ...process.env, LATCHKEY_BROWSER: 'none', LATCHKEY_APP_ID: 'dev.latchkey.cli-oauth-test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let gotUrl;
  const page = new Promise((resolve) => { gotUrl = resolve; });
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => {
    stderr += d;
    const m = stderr.match(/Open this page to continue: (\S+)/);
    if (m) gotUrl(m[1]);
  });
  const done = new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { page, done };
}

async function signIn(choose) {
  const run = cli(['sign-in', '--oauth', 'google']);
  const url = await Promise.race([run.page, run.done.then((r) => { throw new Error(`cli-login exited: ${r.stderr}`); })]);
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.getByText('Sign in with Google').waitFor(WAIT);
  await choose(page);
  // The browser lands on the CLI's own loopback page.
  await page.locator('h1').waitFor(WAIT);
  const landed = { url: page.url(), heading: await page.locator('h1').textContent() };
  const result = await run.done;
  assert.deepEqual(errors, []);
  await context.close();
  return { landed, result };
}

test('a new person on the mock page is signed up; the account used before signs in with one click', async () => {
  const first = await signIn(async (page) => {
    await page.fill('#email', 'chromium.cli@example.com');
    await page.fill('#first_name', 'Chro');
    await page.click('#continue');
  });
  assert.equal(first.result.code, 0, first.result.stderr);
  assert.match(first.result.stderr, /Signed in as chromium\.cli@example\.com\./);
  assert.match(first.landed.url, /^http:\/\/127\.0\.0\.1:\d+\/callback\?lk_state=/);
  assert.equal(first.landed.heading, 'Back to the app');
  const who = cli(['whoami']);
  const whoami = await who.done;
  assert.equal(whoami.code, 0, whoami.stderr);
  assert.match(whoami.stdout, /chromium\.cli@example\.com \(Chro\)/);
  const signOut = await cli(['sign-out']).done;
  assert.equal(signOut.code, 0, signOut.stderr);

  const again = await signIn(async (page) => {
    await page.locator('button[data-email="chromium.cli@example.com"]').click();
  });
  assert.equal(again.result.code, 0, again.result.stderr);
  assert.match(again.result.stderr, /Signed in as chromium\.cli@example\.com\./);
  const users = await (await fetch(`${emulator.url}/v1/users?email_address=chromium.cli@example.com`, {
    headers: { authorization: `Bearer ${emulator.secret_key}` },
  })).json();
  assert.equal(users.length, 1, 'the same user both times');
  assert.equal(users[0].external_accounts[0].provider, 'oauth_google');
  assert.equal((await cli(['sign-out']).done).code, 0);
});

test('denying on the mock page ends the CLI with an error and no session', async () => {
  const denied = await signIn(async (page) => { await page.click('#deny'); });
  assert.notEqual(denied.result.code, 0);
  assert.match(denied.result.stderr, /denied/);
  assert.equal(denied.landed.heading, 'Sign-in did not complete');
  const whoami = await cli(['whoami']).done;
  assert.notEqual(whoami.code, 0, 'signed out');
});
