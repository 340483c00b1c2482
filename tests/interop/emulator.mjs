// Spawns a real `auth-emulator` process for one test file and drives its Frontend API the way a
// native client does. Not a test file itself (node --test only picks up *.test.mjs here).
//
// AUTH_EMULATOR_BIN: the binary (default: target/debug/auth-emulator relative to the repo root).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify as verifySignature } from 'node:crypto';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SECRET_KEY = 'sk_test_interop_1234567890';

const running = new Set();
// A test file that crashes, is cancelled or is interrupted must not leave an emulator behind.
const killAll = () => {
  for (const child of running) child.kill('SIGKILL');
};
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}

/** How long a SIGTERM'd emulator has to exit (with status 0) before stop() fails it. */
export const STOP_TIMEOUT_MS = 10_000;

/**
 * Sends SIGTERM to a running `child` and resolves once it has exited with status 0. Rejects if it
 * had already exited, exits otherwise (a status, or death by a signal), or takes longer than
 * STOP_TIMEOUT_MS (it is then killed with SIGKILL). `stderr()` is quoted in the error.
 */
export async function stopGracefully(child, stderr) {
  const what = `auth-emulator (pid ${child.pid})`;
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`${what} had exited (code ${child.exitCode}, signal ${child.signalCode}) before it was stopped; stderr:\n${stderr()}`);
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.kill('SIGTERM');
  let timer;
  const timedOut = new Promise((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT_MS, null); });
  const result = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (result === null) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${what} did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (killed with SIGKILL); stderr:\n${stderr()}`);
  }
  if (result.code !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
    throw new Error(`${what} ${how} after SIGTERM, not with 0; stderr:\n${stderr()}`);
  }
}

/**
 * Starts `auth-emulator start --ephemeral --port 0 --json` and resolves with the JSON line it
 * prints first (frontend_api_url, publishable_key, secret_key, webhook_secret, …) plus `stop()`
 * (see stopGracefully: it rejects unless the emulator shuts down cleanly).
 */
export async function startEmulator({ extraArgs = [] } = {}) {
  const bin = process.env.AUTH_EMULATOR_BIN
    ? path.resolve(process.env.AUTH_EMULATOR_BIN)
    : path.join(REPO_ROOT, 'target', 'debug', 'auth-emulator');
  const child = spawn(
    bin,
    ['start', '--ephemeral', '--port', '0', '--json', '--secret-key', SECRET_KEY, ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-8000);
  });
  // SIGTERM, then the emulator must exit with status 0 within STOP_TIMEOUT_MS (its graceful
  // shutdown, README.md); anything else rejects. Calling stop() again returns the same promise.
  let stopping;
  const stop = () => {
    stopping ??= stopGracefully(child, () => stderr).finally(() => running.delete(child));
    return stopping;
  };
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`auth-emulator did not print its JSON line within 30 s; stderr:\n${stderr}`));
    }, 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin} (set AUTH_EMULATOR_BIN or build it first): ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`auth-emulator exited early (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch (err) {
        reject(new Error(`first stdout line is not JSON: ${line}`));
      }
    });
  });
  child.removeAllListeners('exit');
  // Keep draining stdout so the emulator never blocks on a full pipe.
  child.stdout.resume();
  return { ...info, url: info.frontend_api_url, stop, stderr: () => stderr };
}

/** A unique, valid email address for this run. */
export function uniqueEmail(tag = 'user') {
  return `${tag}-${randomBytes(5).toString('hex')}@example.com`;
}

export const PASSWORD = 'interop-Correct-Horse-Battery-9';

/** Every request the helpers make gives up after this long (a hang fails fast, not in 300 s). */
export const REQUEST_TIMEOUT_MS = 15_000;

async function json(res, what) {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** Native FAPI sign-in (identifier + password in one call). */
export async function fapiSignIn(url, identifier, password = PASSWORD) {
  const res = await fetch(`${url}/v1/client/sign_ins?_is_native=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ identifier, password }).toString(),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const clientToken = res.headers.get('authorization');
  const body = await json(res, 'FAPI sign-in');
  if (body.response?.status !== 'complete') {
    throw new Error(`FAPI sign-in did not complete: ${JSON.stringify(body.response)}`);
  }
  if (!clientToken) throw new Error('FAPI sign-in response has no Authorization header');
  return {
    clientToken,
    sessionId: body.response.created_session_id,
    clientId: body.client?.id,
    userId: body.client?.sessions?.find((s) => s.id === body.response.created_session_id)?.user?.id,
  };
}

/** Mints a session token through the Frontend API, as a native client does. */
export async function fapiMint(url, clientToken, sessionId) {
  const res = await fetch(`${url}/v1/client/sessions/${sessionId}/tokens?_is_native=true`, {
    method: 'POST',
    headers: { authorization: clientToken },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await json(res, 'FAPI mint');
  return body.jwt;
}

/**
 * The emulator's control API. Every request other than a GET carries a JSON body (`{}` when
 * there is nothing to send) with `Content-Type: application/json`, which the control API requires.
 */
export async function control(url, method, route, body) {
  const read = method === 'GET' || method === 'HEAD';
  const res = await fetch(`${url}/_emulator/v1${route}`, {
    method,
    headers: read ? {} : { 'content-type': 'application/json' },
    body: read ? undefined : JSON.stringify(body ?? {}),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return json(res, `control ${method} ${route}`);
}

/**
 * A Backend API call with the emulator's secret key and a JSON body; the answer's JSON (an
 * error status throws). `emu` is what startEmulator resolved.
 */
export async function bapi(emu, method, route, body) {
  const res = await fetch(`${emu.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${emu.secret_key}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return json(res, `${method} ${route}`);
}

/**
 * Verifies a session token as a server-side verifier would: RS256 against the emulator's JWKS,
 * and valid at the emulator's time, which tests move (the verifier keeps the clock the tokens
 * were made by). Resolves with its claims.
 */
export async function verifySessionToken(emu, jwt) {
  const [h, p, sig] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  assert.equal(header.alg, 'RS256');
  const res = await fetch(`${emu.url}/.well-known/jwks.json`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const { keys } = await json(res, 'GET /.well-known/jwks.json');
  const jwk = keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `the JWKS has the token's key ${header.kid}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  assert.ok(verifySignature('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url')), 'signature');
  const now = Math.floor((await control(emu.url, 'GET', '/time')).now / 1000);
  assert.ok(payload.nbf <= now + 5 && now < payload.exp, `valid now (${now}): nbf ${payload.nbf}, exp ${payload.exp}`);
  return payload;
}

/** Decodes a JWT's payload without verifying it. */
export function jwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

export function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
}
