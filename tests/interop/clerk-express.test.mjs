// @clerk/express against a real auth-emulator: an Express app with clerkMiddleware() (the
// browser publishable key, the secret key, the Backend API at the emulator) and its Frontend API
// proxy at /__clerk (forwarding to the emulator, CLERK_FAPI_URL), driven the way a browser
// drives it: document requests with fetch, redirects followed by hand, cookies kept in a jar.
// Signed out, a document request goes through the handshake (the backend asks for the nonce
// form) and ends signed out; after a sign-in through the proxied Frontend API it ends signed in,
// and the token form is accepted too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { clerkMiddleware, getAuth, requireAuth } from '@clerk/express';
import { startEmulator, SECRET_KEY, PASSWORD, REQUEST_TIMEOUT_MS, uniqueEmail } from './emulator.mjs';

let emu;
let server;
let appUrl;

before(async () => {
  emu = await startEmulator();
  // Configured as an Express app is: the keys and the Backend API in the environment (the
  // client the middleware makes for its Backend API calls, the handshake's nonce among them,
  // reads the secret key from there), and where frontendApiProxy forwards /__clerk/* (the
  // publishable key's host is not reachable).
  process.env.CLERK_PUBLISHABLE_KEY = emu.browser_publishable_key;
  process.env.CLERK_SECRET_KEY = SECRET_KEY;
  process.env.CLERK_API_URL = emu.url;
  process.env.CLERK_FAPI_URL = emu.url;
  const options = {
    publishableKey: emu.browser_publishable_key,
    secretKey: SECRET_KEY,
    apiUrl: emu.url,
    frontendApiProxy: { enabled: true },
  };
  const app = express();
  app.use(clerkMiddleware(options));
  app.get('/me', (req, res) => {
    const auth = getAuth(req);
    res.json({ userId: auth.userId, sessionId: auth.sessionId });
  });
  app.get('/protected', requireAuth({ ...options, signInUrl: '/sign-in' }), (req, res) => {
    res.json({ ok: true, userId: getAuth(req).userId });
  });
  await new Promise((resolve) => {
    server = app.listen(0, '127.0.0.1', resolve);
  });
  appUrl = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve());
  await emu?.stop();
});

/** A browser's cookies for the app's host (host-only, as the directives set them). */
class Jar {
  constructor() {
    this.cookies = new Map();
  }

  take(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const gone = attrs.some((a) => /^max-age=(0|-\d+)$/i.test(a)) || value === '';
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** Drops `name` and its suffixed copies (`name_<suffix>`). */
  dropAll(name) {
    for (const k of [...this.cookies.keys()]) {
      if (k === name || k.startsWith(`${name}_`)) this.cookies.delete(k);
    }
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * A document navigation to `url`, following redirects as a browser does (cookies sent to and
 * taken from the app's host only): every hop, and the final response with its parsed body.
 */
async function navigate(jar, url) {
  const hops = [];
  let at = new URL(url, appUrl).toString();
  for (let i = 0; i < 10; i++) {
    const sameHost = new URL(at).host === new URL(appUrl).host;
    const res = await fetch(at, {
      redirect: 'manual',
      headers: {
        accept: 'text/html,application/xhtml+xml',
        'sec-fetch-dest': 'document',
        ...(sameHost && jar.cookies.size ? { cookie: jar.header() } : {}),
      },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (sameHost) jar.take(res);
    hops.push({ url: at, status: res.status });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.arrayBuffer();
      at = new URL(location, at).toString();
      continue;
    }
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { hops, status: res.status, body, url: at };
  }
  throw new Error(`too many redirects: ${JSON.stringify(hops)}`);
}

/** A Frontend API call through the app's proxy, as clerk-js on the app's page makes it. */
async function fapi(method, path, db, form) {
  const url = new URL(`${appUrl}/__clerk${path}`);
  if (db) url.searchParams.set('__clerk_db_jwt', db);
  const res = await fetch(url, {
    method,
    headers: {
      origin: appUrl,
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function newUser() {
  const email = uniqueEmail('express');
  const res = await fetch(`${emu.url}/v1/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email_address: [email], password: PASSWORD }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const user = await res.json();
  assert.equal(res.status, 200, JSON.stringify(user));
  return { email, userId: user.id };
}

const handshakeHops = (hops) => hops.filter((h) => new URL(h.url).pathname.endsWith('/v1/client/handshake'));

test('a signed-out document request goes through the nonce handshake and ends signed out', async () => {
  const jar = new Jar();
  const r = await navigate(jar, '/me');
  assert.equal(r.status, 200, JSON.stringify(r));
  assert.deepEqual(r.body, { userId: null, sessionId: null });
  // Through the proxy to the emulator's handshake, which the backend asked for in nonce form.
  const hs = handshakeHops(r.hops);
  assert.equal(hs.length, 1, JSON.stringify(r.hops));
  const asked = new URL(hs[0].url);
  assert.equal(asked.origin + asked.pathname, `${appUrl}/__clerk/v1/client/handshake`);
  assert.equal(asked.searchParams.get('format'), 'nonce');
  assert.equal(asked.searchParams.get('__clerk_hs_reason'), 'dev-browser-missing');
  assert.ok(
    r.hops.some((h) => new URL(h.url).searchParams.has('__clerk_handshake_nonce')),
    JSON.stringify(r.hops),
  );
  assert.equal(r.url, `${appUrl}/me`, 'back on the page, the payload taken off');
  // The handshake planted a dev browser and said signed out.
  assert.ok(jar.cookies.get('__clerk_db_jwt'), JSON.stringify([...jar.cookies]));
  assert.equal(jar.cookies.get('__client_uat'), '0');
  assert.equal(jar.cookies.get('__session'), undefined);

  // Again: the cookies answer it, no handshake.
  const again = await navigate(jar, '/me');
  assert.deepEqual(again.body, { userId: null, sessionId: null });
  assert.equal(handshakeHops(again.hops).length, 0, JSON.stringify(again.hops));

  // requireAuth refuses: off to the sign-in page.
  const res = await fetch(`${appUrl}/protected`, {
    redirect: 'manual',
    headers: { accept: 'text/html', 'sec-fetch-dest': 'document', cookie: jar.header() },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), '/sign-in');
});

test('after a sign-in through the proxied Frontend API, the handshake signs the browser in', async () => {
  const { email, userId } = await newUser();
  // As clerk-js does on the app's page: a dev browser, then a sign-in carrying it.
  const made = await fapi('POST', '/v1/dev_browser');
  const db = made.id;
  assert.ok(db);
  const si = await fapi('POST', '/v1/client/sign_ins', db, { identifier: email, password: PASSWORD });
  assert.equal(si.response.status, 'complete');
  const sessionId = si.response.created_session_id;

  // Back from a redirect flow with the dev browser in the URL (`dev-browser-sync`).
  const jar = new Jar();
  const r = await navigate(jar, `/me?__clerk_db_jwt=${encodeURIComponent(db)}`);
  assert.equal(r.status, 200, JSON.stringify(r));
  assert.deepEqual(r.body, { userId, sessionId });
  const hs = handshakeHops(r.hops);
  assert.equal(hs.length, 1, JSON.stringify(r.hops));
  assert.equal(new URL(hs[0].url).searchParams.get('__clerk_hs_reason'), 'dev-browser-sync');
  assert.equal(r.url, `${appUrl}/me`);
  assert.equal(jar.cookies.get('__clerk_db_jwt'), db);
  assert.ok(jar.cookies.get('__session'));
  assert.notEqual(jar.cookies.get('__client_uat'), '0');

  // The cookies now say who it is, with no handshake; requireAuth lets it through.
  const again = await navigate(jar, '/protected');
  assert.equal(again.status, 200, JSON.stringify(again));
  assert.deepEqual(again.body, { ok: true, userId });
  assert.equal(handshakeHops(again.hops).length, 0);

  // The session cookie gone but the client's uat still there (`client-uat-without-session-token`):
  // another handshake, signed in again.
  jar.dropAll('__session');
  const refreshed = await navigate(jar, '/me');
  assert.deepEqual(refreshed.body, { userId, sessionId });
  assert.equal(handshakeHops(refreshed.hops).length, 1, JSON.stringify(refreshed.hops));

  // Signed out through the Frontend API: the next handshake says so.
  await fapi('POST', '/v1/client/sessions?_method=DELETE', db, {});
  jar.dropAll('__session');
  const out = await navigate(jar, '/me');
  assert.deepEqual(out.body, { userId: null, sessionId: null });
  assert.equal(jar.cookies.get('__client_uat'), '0');
});

test('the backend accepts the token form, verified with the keys from the Backend API', async () => {
  const { email, userId } = await newUser();
  const made = await fapi('POST', '/v1/dev_browser');
  const si = await fapi('POST', '/v1/client/sign_ins', made.id, { identifier: email, password: PASSWORD });
  const sessionId = si.response.created_session_id;
  // The backend always asks for the nonce form; a handshake in token form (the default) is
  // what an older backend asks for, and the response is accepted from any instance.
  const jar = new Jar();
  jar.cookies.set('__clerk_db_jwt', made.id);
  const hs = new URL(`${appUrl}/__clerk/v1/client/handshake`);
  hs.searchParams.set('redirect_url', `${appUrl}/me`);
  hs.searchParams.set('__clerk_db_jwt', made.id);
  hs.searchParams.set('suffixed_cookies', 'false');
  const r = await navigate(jar, hs.toString());
  assert.ok(
    r.hops.some((h) => new URL(h.url).searchParams.has('__clerk_handshake')),
    JSON.stringify(r.hops),
  );
  assert.deepEqual(r.body, { userId, sessionId });
  assert.equal(r.url, `${appUrl}/me`);
});
