// The official clerk-js (npm @clerk/clerk-js 6.x, served by the emulator from tests/ui's
// node_modules with --clerk-js-dir) in real Chromium, against the emulator in browser mode, set
// up the documented way: the app serves its page and forwards /__clerk/* to the emulator with
// @clerk/backend's clerkFrontendApiProxy, and clerk-js is given the emulator's browser
// publishable key (a development host, so clerk-js makes a dev browser) and proxyUrl "/__clerk".
//
//   cargo build -p latchkey-emulator --bin auth-emulator
//   (cd tests/ui && npm ci)
//   node --test tests/ui/clerk-js.test.mjs
//
// Checked: clerk-js loads (dev browser, environment touch, client), signs up with the code from
// the emulator's inbox, mints a session token the emulator's JWKS verifies (azp = the page),
// stays signed in across a reload (the dev browser survives in its cookie), signs out, signs
// in with a password, holds two sessions and switches between them, and keeps a session past
// the 60-second token lifetime when the emulator's clock and the page's move together.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { clerkFrontendApiProxy } from '@clerk/backend/proxy';
import { createHmac } from 'node:crypto';
import { bapi as bapiCall, control as controlApi, startEmulator, verifySessionToken } from '../interop/emulator.mjs';
import { chromiumOptions } from '../interop/chromium.mjs';

const NODE_MODULES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules');
const PASSWORD = 'lk-Test-pass-4921';
const WAIT = { timeout: 15_000 };

let emulator;
let app; // { origin, close() }
let browser;

const control = (method, route, body) => controlApi(emulator.url, method, route, body);

const bapi = (method, route, body) => bapiCall(emulator, method, route, body);

/** The app: one page that loads clerk-js through the app's own /__clerk proxy to the emulator. */
async function startApp() {
  const pk = emulator.browser_publishable_key;
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>clerk-js on the emulator</title></head>
<body><main id="app">app</main><div id="clerk-captcha"></div>
<script async crossorigin="anonymous" data-clerk-publishable-key="${pk}" data-clerk-proxy-url="/__clerk"
  src="/__clerk/npm/@clerk/clerk-js@6/dist/clerk.browser.js"></script>
</body></html>`;
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, `http://${req.headers.host}`);
      if (!url.pathname.startsWith('/__clerk/')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page);
        return;
      }
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const hasBody = !['GET', 'HEAD'].includes(req.method);
      const request = new Request(url, {
        method: req.method,
        headers: req.headers,
        body: hasBody ? Buffer.concat(chunks) : undefined,
      });
      const answer = await clerkFrontendApiProxy(request, {
        proxyPath: '/__clerk',
        publishableKey: pk,
        secretKey: emulator.secret_key,
        fapiUrl: emulator.url,
      });
      const headers = {};
      answer.headers.forEach((v, k) => {
        headers[k] = v;
      });
      res.writeHead(answer.status, headers);
      res.end(Buffer.from(await answer.arrayBuffer()));
    } catch (e) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(e));
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://localhost:${server.address().port}`, close: () => server.close() };
}

/**
 * A new browser context on the app with clerk-js loaded; `clock` installs Playwright's clock,
 * `routes(context)` sets up request routing first.
 */
async function openApp({ clock = false, routes } = {}) {
  const context = await browser.newContext();
  if (routes) await routes(context);
  const page = await context.newPage();
  const errors = [];
  const fapi = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/__clerk/v1/')) fapi.push(`${r.status()} ${r.request().method()} ${u.pathname}${u.search.includes('_method=') ? ` ${u.searchParams.get('_method')}` : ''}`);
  });
  if (clock) await page.clock.install();
  await load(page);
  return { page, errors, fapi, close: () => context.close() };
}

async function load(page) {
  await page.goto(`${app.origin}/`);
  await page.waitForFunction(() => window.Clerk, null, WAIT);
  await page.evaluate(() => window.Clerk.load());
}

const latestCode = async (email) => {
  const msg = await control('GET', `/messages/latest?to=${encodeURIComponent(email)}&wait_ms=10000`);
  assert.match(msg.code, /^\d{6}$/);
  return msg.code;
};

async function signUp(page, email) {
  const started = await page.evaluate(async ({ email, password }) => {
    const su = await window.Clerk.client.signUp.create({ emailAddress: email, password });
    await su.prepareEmailAddressVerification({ strategy: 'email_code' });
    return { status: su.status, unverified: su.unverifiedFields };
  }, { email, password: PASSWORD });
  assert.deepEqual(started, { status: 'missing_requirements', unverified: ['email_address'] });
  const code = await latestCode(email);
  return page.evaluate(async (code) => {
    const su = await window.Clerk.client.signUp.attemptEmailAddressVerification({ code });
    await window.Clerk.setActive({ session: su.createdSessionId });
    return { status: su.status, userId: window.Clerk.user.id, email: window.Clerk.user.primaryEmailAddress.emailAddress };
  }, code);
}

async function signIn(page, email) {
  return page.evaluate(async ({ email, password }) => {
    const si = await window.Clerk.client.signIn.create({ identifier: email, password });
    await window.Clerk.setActive({ session: si.createdSessionId });
    return { status: si.status, userId: window.Clerk.user.id, sessionId: window.Clerk.session.id };
  }, { email, password: PASSWORD });
}

const verify = (jwt) => verifySessionToken(emulator, jwt);

before(async () => {
  emulator = await startEmulator({ extraArgs: ['--clerk-js-dir', NODE_MODULES] });
  app = await startApp();
  browser = await chromium.launch(chromiumOptions({ asPerson: true }));
});

after(async () => {
  await browser?.close();
  app?.close();
  await emulator?.stop();
});

test('clerk-js loads offline from the emulator and makes a dev browser', async () => {
  const { page, errors, fapi, close } = await openApp();
  try {
    const state = await page.evaluate(() => ({
      loaded: window.Clerk.loaded,
      version: window.Clerk.version,
      client: window.Clerk.client?.id,
      user: window.Clerk.user ?? null,
    }));
    assert.equal(state.loaded, true);
    assert.match(state.version, /^6\./);
    assert.match(state.client, /^client_/);
    assert.equal(state.user, null);
    // The development load: a dev browser, then the environment "touch" and the client (side by
    // side, so in either order).
    assert.equal(fapi[0], '200 POST /__clerk/v1/dev_browser');
    assert.deepEqual(fapi.slice(1, 3).sort(), ['200 GET /__clerk/v1/client', '200 POST /__clerk/v1/environment PATCH']);
    const cookies = await page.context().cookies();
    assert.ok(cookies.some((c) => c.name.startsWith('__clerk_db_jwt')), 'clerk-js kept its dev browser in a cookie');
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('sign up with the emailed code, reload, sign out, sign in with the password', async () => {
  const { page, errors, close } = await openApp();
  const email = `clerk-js-${process.pid}@example.com`;
  try {
    const up = await signUp(page, email);
    assert.deepEqual({ status: up.status, email: up.email }, { status: 'complete', email });
    const user = await bapi('GET', `/v1/users/${up.userId}`);
    assert.equal(user.email_addresses[0].email_address, email);

    // A session token the emulator's keys verify, for this user, authorized for this page.
    const jwt = await page.evaluate(() => window.Clerk.session.getToken());
    const claims = await verify(jwt);
    assert.equal(claims.sub, up.userId);
    assert.equal(claims.azp, app.origin);
    const sessionId = await page.evaluate(() => window.Clerk.session.id);
    assert.equal(claims.sid, sessionId);

    // A reload finds the same client and session through the dev browser's cookie.
    await load(page);
    assert.deepEqual(await page.evaluate(() => [window.Clerk.user?.id, window.Clerk.session?.id]), [up.userId, sessionId]);

    // Sign out (clerk-js then goes to its after-sign-out URL, this page).
    await Promise.all([
      page.waitForEvent('framenavigated', WAIT),
      page.evaluate(() => window.Clerk.signOut()).catch(() => {}),
    ]);
    await page.waitForFunction(() => window.Clerk, null, WAIT);
    await page.evaluate(() => window.Clerk.load());
    assert.equal(await page.evaluate(() => window.Clerk.user ?? null), null);
    assert.equal((await bapi('GET', `/v1/sessions/${sessionId}`)).status, 'ended');

    const inAgain = await signIn(page, email);
    assert.equal(inAgain.status, 'complete');
    assert.equal(inAgain.userId, up.userId);
    assert.notEqual(inAgain.sessionId, sessionId);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('two sessions in one browser, and a switch between them', async () => {
  const a = `clerk-js-a-${process.pid}@example.com`;
  const b = `clerk-js-b-${process.pid}@example.com`;
  const ua = await bapi('POST', '/v1/users', { email_address: [a], password: PASSWORD });
  const ub = await bapi('POST', '/v1/users', { email_address: [b], password: PASSWORD });
  const { page, errors, close } = await openApp();
  try {
    const first = await signIn(page, a);
    const second = await signIn(page, b);
    assert.equal(second.userId, ub.id);
    const sessions = await page.evaluate(() => window.Clerk.client.signedInSessions.map((s) => s.user.id).sort());
    assert.deepEqual(sessions, [ua.id, ub.id].sort());
    await page.evaluate((sid) => window.Clerk.setActive({ session: sid }), first.sessionId);
    assert.equal(await page.evaluate(() => window.Clerk.user.id), ua.id);
    const claims = await verify(await page.evaluate(() => window.Clerk.session.getToken()));
    assert.equal(claims.sid, first.sessionId);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('the session outlives the 60-second token when both clocks move', async () => {
  const email = `clerk-js-clock-${process.pid}@example.com`;
  const user = await bapi('POST', '/v1/users', { email_address: [email], password: PASSWORD });
  const { page, errors, close } = await openApp({ clock: true });
  try {
    await signIn(page, email);
    const before = await verify(await page.evaluate(() => window.Clerk.session.getToken()));
    // Five minutes later, on the emulator and in the page alike.
    await control('POST', '/time/advance', { seconds: 300 });
    await page.clock.fastForward(300_000);
    const jwt = await page.evaluate(() => window.Clerk.session.getToken());
    const afterwards = await verify(jwt);
    assert.equal(afterwards.sub, user.id);
    assert.ok(afterwards.iat >= before.iat + 300, `a fresh token: iat ${before.iat} then ${afterwards.iat}`);
    assert.equal(await page.evaluate(() => window.Clerk.user?.id), user.id, 'still signed in');
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('OAuth with the mock Google in redirect mode: someone new is signed up, then signed in', async () => {
  const email = `clerk-js-oauth-${process.pid}@example.com`;
  const identity = { email, first_name: 'Gee', last_name: 'Oauth', email_verified: true, provider_user_id: `g-cj-${process.pid}` };
  const { page, errors, fapi, close } = await openApp();
  const authenticate = () => page.evaluate(() => window.Clerk.client.signIn.authenticateWithRedirect({
    strategy: 'oauth_google', redirectUrl: '/sso-callback', redirectUrlComplete: '/done',
  }));
  const reload = async () => {
    await page.waitForFunction(() => window.Clerk, null, WAIT);
    await page.evaluate(() => window.Clerk.load());
  };
  try {
    // Someone new: the provider's callback sends the browser to the sso-callback page, whose
    // handleRedirectCallback (what <AuthenticateWithRedirectCallback/> runs) transfers the
    // sign-in to a sign-up and lands on the complete URL, signed in.
    await control('POST', '/oauth/google/next', identity);
    await Promise.all([page.waitForURL(/\/sso-callback/, WAIT), authenticate()]);
    await reload();
    await Promise.all([
      page.waitForURL(/\/done$/, WAIT),
      page.evaluate(() => window.Clerk.handleRedirectCallback({ signInFallbackRedirectUrl: '/done', signUpFallbackRedirectUrl: '/done' })),
    ]);
    await reload();
    const userId = await page.evaluate(() => window.Clerk.user?.id);
    const user = await bapi('GET', `/v1/users/${userId}`);
    assert.equal(user.email_addresses[0].email_address, email);
    assert.deepEqual(user.external_accounts.map((a) => [a.provider, a.email_address]), [['oauth_google', email]]);

    await Promise.all([page.waitForEvent('framenavigated', WAIT), page.evaluate(() => window.Clerk.signOut()).catch(() => {})]);
    await reload();
    assert.equal(await page.evaluate(() => window.Clerk.user ?? null), null);

    // Back through Google: a session is made at the callback, so the browser goes straight to
    // the complete URL, with nothing to redeem in it (its dev browser's client holds the session).
    await control('POST', '/oauth/google/next', identity);
    await Promise.all([page.waitForURL(/\/done/, WAIT), authenticate()]);
    assert.equal(new URL(page.url()).search, '', 'no nonce or status in a browser\'s landing URL');
    await reload();
    assert.equal(await page.evaluate(() => window.Clerk.user?.id), userId);
    assert.deepEqual(errors, []);
  } catch (e) {
    throw new Error(`${e.message}\nat ${page.url()}\nFrontend API calls: ${fapi.join(' | ')}`);
  } finally {
    await close();
  }
});

test('an email link: the sign-in waits, the link is opened in another tab, the first tab is signed in', async () => {
  const email = `clerk-js-link-${process.pid}@example.com`;
  const user = await bapi('POST', '/v1/users', { email_address: [email], password: PASSWORD });
  await control('PATCH', '/instance', { settings: { email_address: { email_link: true } } });
  const { page, errors, fapi, close } = await openApp();
  try {
    // clerk-js's email-link flow: it polls the sign-in until the link is opened.
    await page.evaluate(async ({ email, origin }) => {
      const si = await window.Clerk.client.signIn.create({ identifier: email });
      const factor = si.supportedFirstFactors.find((f) => f.strategy === 'email_link');
      const { startEmailLinkFlow } = si.createEmailLinkFlow();
      window.linkDone = startEmailLinkFlow({ emailAddressId: factor.emailAddressId, redirectUrl: `${origin}/verified` })
        .then(async (r) => {
          await window.Clerk.setActive({ session: r.createdSessionId });
          return { status: r.status, user: window.Clerk.user.id };
        });
    }, { email, origin: app.origin });
    const msg = await control('GET', `/messages/latest?to=${encodeURIComponent(email)}&wait_ms=10000`);
    assert.match(msg.link, /\/v1\/verify\?token=/);

    // The person opens the link in another tab: it lands on the app's page, verified.
    const tab = await page.context().newPage();
    await tab.goto(msg.link);
    assert.equal(new URL(tab.url()).origin, app.origin);
    assert.equal(new URL(tab.url()).searchParams.get('__clerk_status'), 'verified');
    await tab.close();

    const done = await page.evaluate(() => window.linkDone);
    assert.deepEqual(done, { status: 'complete', user: user.id });
    assert.deepEqual(errors, []);
    await control('PATCH', '/instance', { settings: { email_address: { email_link: false } } });
  } catch (e) {
    throw new Error(`${e.message}\nFrontend API calls: ${fapi.join(' | ')}`);
  } finally {
    await close();
  }
});

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret at `time` (ms). */
function totp(secret, time) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

test('TOTP as the second factor: enrolled through clerk-js, then asked for at sign-in', async () => {
  const email = `clerk-js-totp-${process.pid}@example.com`;
  const user = await bapi('POST', '/v1/users', { email_address: [email], password: PASSWORD });
  const { page, errors, fapi, close } = await openApp();
  const emulatorNow = async () => (await control('GET', '/time')).now;
  try {
    await signIn(page, email);
    const secret = await page.evaluate(async () => (await window.Clerk.user.createTOTP()).secret);
    const enrolled = await page.evaluate(async (code) => {
      const t = await window.Clerk.user.verifyTOTP({ code });
      await window.Clerk.user.reload();
      return { verified: t.verified, twoFactor: window.Clerk.user.twoFactorEnabled };
    }, totp(secret, await emulatorNow()));
    assert.deepEqual(enrolled, { verified: true, twoFactor: true });

    await Promise.all([page.waitForEvent('framenavigated', WAIT), page.evaluate(() => window.Clerk.signOut()).catch(() => {})]);
    await page.waitForFunction(() => window.Clerk, null, WAIT);
    await page.evaluate(() => window.Clerk.load());

    const first = await page.evaluate(async ({ email, password }) => {
      const si = await window.Clerk.client.signIn.create({ identifier: email, password });
      return { status: si.status, factors: si.supportedSecondFactors.map((f) => f.strategy) };
    }, { email, password: PASSWORD });
    assert.equal(first.status, 'needs_second_factor');
    assert.ok(first.factors.includes('totp'), first.factors.join());
    // A wrong code is refused with Clerk's error; the right one completes the sign-in.
    const wrong = await page.evaluate(async () => {
      try {
        await window.Clerk.client.signIn.attemptSecondFactor({ strategy: 'totp', code: '000000' });
        return null;
      } catch (e) {
        return e.errors?.[0]?.code;
      }
    });
    assert.equal(wrong, 'form_code_incorrect');
    // 30 s on, so the code differs from the one used to enrol (a TOTP code works once).
    await control('POST', '/time/advance', { seconds: 30 });
    const done = await page.evaluate(async (code) => {
      const si = await window.Clerk.client.signIn.attemptSecondFactor({ strategy: 'totp', code });
      await window.Clerk.setActive({ session: si.createdSessionId });
      return { status: si.status, user: window.Clerk.user.id };
    }, totp(secret, await emulatorNow()));
    assert.deepEqual(done, { status: 'complete', user: user.id });
    assert.deepEqual(errors, []);
  } catch (e) {
    throw new Error(`${e.message}\nFrontend API calls: ${fapi.join(' | ')}`);
  } finally {
    await close();
  }
});

test('bot protection: a browser sign-up passes the test CAPTCHA widget, ticked by the person', async () => {
  // The smart widget with Cloudflare's "asks the person" test key; clerk-js loads Turnstile from
  // Cloudflare's URL, which the test routes to the emulator's widget (no network here).
  await control('PATCH', '/instance', { settings: { captcha: { enabled: true, widget_type: 'smart', site_key: '3x00000000000000000000FF' } } });
  const { page, errors, fapi, close } = await openApp({
    routes: async (context) => {
      await context.route(/^https:\/\/challenges\.cloudflare\.com\/turnstile\/v0\/api\.js/, async (route) => {
        const res = await fetch(`${emulator.url}/captcha/turnstile/v0/api.js`);
        await route.fulfill({ status: res.status, contentType: 'text/javascript', body: await res.text() });
      });
    },
  });
  const email = `clerk-js-captcha-${process.pid}@example.com`;
  try {
    const started = page.evaluate(async ({ email, password }) => {
      const su = await window.Clerk.client.signUp.create({ emailAddress: email, password });
      return su.status;
    }, { email, password: PASSWORD });
    const box = page.locator('#clerk-captcha [data-testid="latchkey-captcha"] input');
    await box.waitFor(WAIT);
    await box.click();
    assert.equal(await started, 'missing_requirements');
    const sent = fapi.filter((f) => f.includes('/v1/client/sign_ups'));
    assert.deepEqual(sent, ['200 POST /__clerk/v1/client/sign_ups'], 'one sign-up, carrying the token');

    // The always-passing key: the widget solves itself, with nothing to click.
    await control('PATCH', '/instance', { settings: { captcha: { site_key: '1x00000000000000000000AA' } } });
    await load(page);
    const passed = await page.evaluate(async ({ email, password }) => {
      const su = await window.Clerk.client.signUp.create({ emailAddress: email, password });
      return su.status;
    }, { email: `p-${email}`, password: PASSWORD });
    assert.equal(passed, 'missing_requirements');

    // The always-failing key: clerk-js reports the widget's error and the sign-up is refused.
    await control('PATCH', '/instance', { settings: { captcha: { site_key: '2x00000000000000000000AB' } } });
    await load(page);
    const refused = await page.evaluate(async ({ email, password }) => {
      try {
        await window.Clerk.client.signUp.create({ emailAddress: email, password });
        return null;
      } catch (e) {
        return e.errors?.[0]?.code ?? String(e);
      }
    }, { email: `x-${email}`, password: PASSWORD });
    assert.equal(refused, 'captcha_invalid');
    assert.deepEqual(errors, []);
  } catch (e) {
    throw new Error(`${e.message}\nFrontend API calls: ${fapi.join(' | ')}`);
  } finally {
    await control('PATCH', '/instance', { settings: { captcha: { enabled: false, site_key: '1x00000000000000000000AA' } } });
    await close();
  }
});
