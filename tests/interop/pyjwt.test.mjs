// PyJWT (PyJWKClient) verifies session tokens minted by a real auth-emulator process, fetching
// keys from the public {url}/.well-known/jwks.json (and the Backend API's /v1/jwks).
// Needs: python3 -m pip install -r tests/interop/requirements.txt (PYTHON overrides `python3`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, fapiSignIn, fapiMint, control, uniqueEmail, PASSWORD, REQUEST_TIMEOUT_MS } from './emulator.mjs';

const run = promisify(execFile);
const PYTHON = process.env.PYTHON || 'python3';
const CHECK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pyjwt_check.py');

let emu;
before(async () => {
  emu = await startEmulator();
});
after(async () => {
  await emu?.stop();
});

async function pyjwtCheck(jwksUrl, publicKeyPem, ...tokens) {
  try {
    const args = [CHECK, emu.url, emu.secret_key, jwksUrl, publicKeyPem, ...tokens];
    const { stdout } = await run(PYTHON, args, { timeout: 60_000 });
    return JSON.parse(stdout);
  } catch (err) {
    if (/No module named 'jwt'|No module named 'cryptography'/.test(err.stderr ?? '')) {
      throw new Error('PyJWT is missing: python3 -m pip install -r tests/interop/requirements.txt');
    }
    throw new Error(`pyjwt_check.py failed: ${err.message}\n${err.stderr ?? ''}`);
  }
}

test('PyJWKClient verifies FAPI- and BAPI-minted session tokens', { timeout: 120_000 }, async () => {
  const email = uniqueEmail('py');
  const bapi = (route, init = {}) =>
    fetch(`${emu.url}/v1${route}`, {
      ...init,
      headers: { authorization: `Bearer ${emu.secret_key}`, 'content-type': 'application/json' },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    }).then(async (r) => {
      assert.equal(r.status, 200, await r.clone().text());
      return r.json();
    });
  const user = await bapi('/users', { method: 'POST', body: JSON.stringify({ email_address: [email], password: PASSWORD }) });
  const s = await fapiSignIn(emu.url, email);
  const fapiJwt = await fapiMint(emu.url, s.clientToken, s.sessionId);
  const bapiJwt = (await bapi(`/sessions/${s.sessionId}/tokens`, { method: 'POST' })).jwt;
  // PyJWT fetches the keys from the JWKS URL the control API advertises, and verifies each token
  // once more with the public key PEM it advertises.
  const instance = await control(emu.url, 'GET', '/instance');
  assert.equal(instance.jwks_url, `${emu.url}/.well-known/jwks.json`);
  assert.match(instance.public_key_pem, /^-----BEGIN PUBLIC KEY-----\n/);

  const out = await pyjwtCheck(instance.jwks_url, instance.public_key_pem, fapiJwt, bapiJwt);
  assert.equal(out.pyjwt, '2.15.1');
  assert.equal(out.results.length, 2);
  for (const r of out.results) {
    assert.equal(r.claims.sub, user.id);
    assert.equal(r.claims.sid, s.sessionId);
    assert.equal(r.claims.iss, emu.url);
    assert.equal(r.claims.v, 2);
    assert.equal(r.claims.exp - r.claims.iat, 60);
    assert.equal(r.claims.nbf, r.claims.iat - 10);
    assert.ok(Math.abs(r.claims.iat - Date.now() / 1000) < 30, 'iat is seconds, near now');
    assert.equal(r.alg, 'RS256');
    assert.match(r.kid, /^ins_/);
    assert.ok(r.jwks_kids.includes(r.kid));
    assert.equal(r.jwks_url, instance.jwks_url, 'PyJWKClient fetched the advertised JWKS URL');
    assert.equal(r.bapi_claims_equal, true, 'the Backend API JWKS verifies it as well');
    assert.equal(r.pem_claims_equal, true, 'the advertised public key PEM verifies it as well');
    assert.equal(r.tampered_rejected, 'InvalidSignatureError');
    assert.equal(r.wrong_issuer_rejected, 'InvalidIssuerError');
  }
});
