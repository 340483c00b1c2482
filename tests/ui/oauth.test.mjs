// OAuth in a real browser (Debian's Chromium, driven by playwright-core), the app being a native
// client on a loopback callback (RFC 8252 §7.3):
// - the emulator's mock Google: a person fills in the provider's page;
// - a real OpenID Connect provider, the npm `oidc-provider` package (a certified OpenID Provider
//   implementation) on loopback, as the upstream of a custom provider, `oauth_custom_idp`
//   ("Example IdP", under `social` as the built-in ones): Chromium goes through its login and
//   consent pages, the emulator redeems the code with PKCE and checks the ID token against the
//   provider's JWKS.
// Either way the app gets `rotating_token_nonce` on its callback and redeems it for a session.
//
//   cargo build -p latchkey-emulator --bin auth-emulator
//   (cd tests/ui && npm ci) && node --test tests/ui/oauth.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { chromium } from 'playwright-core';
import Provider from 'oidc-provider';
import { control as controlApi, startEmulator } from '../interop/emulator.mjs';
import { chromiumOptions } from '../interop/chromium.mjs';

const WAIT = { timeout: 15_000 };

let emulator;
let browser;
let app; // the native app's loopback callback: { url, next(): Promise<URL>, close() }
let oidc; // { issuer, server }

const control = (method, route, body) => controlApi(emulator.url, method, route, body);

/** A one-shot-at-a-time loopback listener, as a desktop app opens for its callback. */
function loopbackApp() {
  let waiting = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, `http://${req.headers.host}`);
    if (url.pathname !== '/callback') return res.writeHead(404).end(); // the browser's favicon
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p id="done">You can close this tab.</p>');
    const w = waiting.shift();
    if (w) w(url);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}/callback`,
        next: () => new Promise((r) => waiting.push(r)),
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

/** A native Frontend API call: the client token in Authorization, the new one taken back. */
async function native(method, path, token, form) {
  const res = await fetch(`${emulator.url}${path}${path.includes('?') ? '&' : '?'}_is_native=true`, {
    method,
    headers: {
      ...(token ? { authorization: token } : {}),
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? new URLSearchParams(form) : undefined,
  });
  const body = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return { body, token: res.headers.get('authorization') ?? token };
}

/**
 * Goes through the upstream provider's pages (its login form, its consent page, in whatever order
 * and number it shows them) until the app's callback arrives; returns the callback URL.
 */
async function throughUpstream(page, landed) {
  let arrived = null;
  landed.then((u) => { arrived = u; });
  const until = Date.now() + 20_000;
  while (!arrived && Date.now() < until) {
    const login = page.locator('input[name="login"]');
    const submit = page.locator('button[type="submit"]');
    if (await login.count()) {
      await login.fill('olga');
      await page.locator('input[name="password"]').fill('any-password');
      await submit.first().click();
    } else if (await submit.count()) {
      await submit.first().click().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  assert.ok(arrived, `the app's callback never came; the browser is at ${page.url()}`);
  return arrived;
}

async function newPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, errors, close: () => context.close() };
}

before(async () => {
  emulator = await startEmulator();
  app = await loopbackApp();
  browser = await chromium.launch(chromiumOptions());

  // The upstream OpenID Provider on a free loopback port.
  const server = http.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'latchkey-emulator',
      client_secret: 'a-secret-only-the-emulator-knows',
      redirect_uris: [`${emulator.url}/v1/oauth_callback`],
      // A loopback http redirect is the native profile's (RFC 8252); the secret stays on the
      // emulator, which is the confidential client here.
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] },
    // The scopes' claims go into the ID token itself (the emulator reads no userinfo).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    cookies: { keys: ['latchkey-test-cookie-key'] },
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({
        sub: id,
        // Mixed case, as some providers send it: stored as every address is, in lower case.
        email: `${id}@IdP.Example.org`,
        email_verified: true,
        given_name: 'Olga',
        family_name: 'Upstream',
      }),
    }),
  });
  server.on('request', provider.callback());
  oidc = { issuer, server };

  await control('PATCH', '/instance', {
    settings: {
      social: {
        oauth_custom_idp: {
          enabled: true,
          name: 'Example IdP',
          oidc: { issuer, client_id: 'latchkey-emulator', client_secret: 'a-secret-only-the-emulator-knows' },
        },
      },
    },
  });
});

after(async () => {
  await browser?.close();
  await app?.close();
  await new Promise((r) => (oidc ? oidc.server.close(r) : r()));
  await emulator?.stop();
});

test('a person signs up on the mock Google page in Chromium; the app redeems its nonce', async () => {
  const { body, token } = await native('POST', '/v1/client/sign_ups', null, {
    strategy: 'oauth_google',
    redirect_url: app.url,
  });
  const id = body.response.id;
  const url = body.response.verifications.external_account.external_verification_redirect_url;
  const { page, errors, close } = await newPage();
  const landed = app.next();
  await page.goto(url);
  await page.getByText('Sign in with Google').waitFor(WAIT);
  await page.fill('#email', 'chromium.person@example.com');
  await page.fill('#first_name', 'Chro');
  await page.click('#continue');
  const callback = await landed;
  await page.locator('#done').waitFor(WAIT);
  const nonce = callback.searchParams.get('rotating_token_nonce');
  assert.ok(nonce, `a nonce on ${callback}`);
  const done = await native('GET', `/v1/client/sign_ups/${id}?rotating_token_nonce=${nonce}`, token);
  assert.equal(done.body.response.status, 'complete');
  assert.notEqual(done.token, token, 'the client token is rotated');
  const users = await (await fetch(`${emulator.url}/v1/users?email_address=chromium.person@example.com`, {
    headers: { authorization: `Bearer ${emulator.secret_key}` },
  })).json();
  assert.equal(users[0].first_name, 'Chro');
  assert.equal(users[0].external_accounts[0].provider, 'oauth_google');
  assert.deepEqual(errors, []);
  await close();
});

test('a real OpenID Provider upstream of a custom provider: its login and consent pages in Chromium, then signed in', async () => {
  const env = await (await fetch(`${emulator.url}/v1/environment`)).json();
  const listed = env.user_settings.social.oauth_custom_idp;
  assert.equal(listed?.strategy, 'oauth_custom_idp', JSON.stringify(env.user_settings.social));
  assert.equal(listed.name, 'Example IdP');
  const { body, token } = await native('POST', '/v1/client/sign_ups', null, {
    strategy: 'oauth_custom_idp',
    redirect_url: app.url,
  });
  const id = body.response.id;
  const url = new URL(body.response.verifications.external_account.external_verification_redirect_url);
  assert.equal(url.origin, oidc.issuer, 'the browser goes to the upstream provider');
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(url.searchParams.get('nonce'));

  const { page, close } = await newPage();
  const landed = app.next();
  await page.goto(url.href);
  // oidc-provider's own login page, then its consent page.
  await page.locator('input[name="login"]').waitFor(WAIT);
  const callback = await throughUpstream(page, landed);
  const nonce = callback.searchParams.get('rotating_token_nonce');
  assert.ok(nonce, `a nonce on ${callback} (status ${callback.searchParams.get('__clerk_status')}, ${callback.searchParams.get('__clerk_error_code')}; emulator log: ${emulator.stderr().slice(-1500)})`);
  const done = await native('GET', `/v1/client/sign_ups/${id}?rotating_token_nonce=${nonce}`, token);
  assert.equal(done.body.response.status, 'complete');
  assert.equal(done.body.response.email_address, 'olga@idp.example.org');
  const uid = done.body.response.created_user_id;
  const user = await (await fetch(`${emulator.url}/v1/users/${uid}`, {
    headers: { authorization: `Bearer ${emulator.secret_key}` },
  })).json();
  assert.equal(user.first_name, 'Olga');
  assert.equal(user.external_accounts[0].provider, 'oauth_custom_idp');
  assert.equal(user.external_accounts[0].provider_user_id, 'olga');
  assert.equal(user.email_addresses[0].verification.strategy, 'from_oauth_custom_idp');
  // The upstream's own access token is what the Backend API hands out.
  const tokens = await (await fetch(`${emulator.url}/v1/users/${uid}/oauth_access_tokens/oauth_custom_idp`, {
    headers: { authorization: `Bearer ${emulator.secret_key}` },
  })).json();
  assert.ok(tokens[0].token && !tokens[0].token.startsWith('mock_'), JSON.stringify(tokens));

  // The same person again, on a new sign-in: the upstream remembers the grant, and the account
  // signs the same user in.
  const again = await native('POST', '/v1/client/sign_ins', null, { strategy: 'oauth_custom_idp', redirect_url: app.url });
  const next = app.next();
  await page.goto(again.body.response.first_factor_verification.external_verification_redirect_url);
  const cb2 = await throughUpstream(page, next);
  const n2 = cb2.searchParams.get('rotating_token_nonce');
  assert.ok(n2, `${cb2}`);
  const si = await native('GET', `/v1/client/sign_ins/${again.body.response.id}?rotating_token_nonce=${n2}`, again.token);
  assert.equal(si.body.response.status, 'complete');
  const sess = await (await fetch(`${emulator.url}/v1/sessions/${si.body.response.created_session_id}`, {
    headers: { authorization: `Bearer ${emulator.secret_key}` },
  })).json();
  assert.equal(sess.user_id, uid);
  await close();
});
