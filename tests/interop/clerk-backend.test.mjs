// @clerk/backend (the official Node SDK) against a real auth-emulator process: the Backend API
// client, networked token verification (JWKS from apiUrl + secretKey) and authenticateRequest.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createClerkClient, verifyToken } from '@clerk/backend';
import { startEmulator, fapiSignIn, fapiMint, jwtPayload, jwtHeader, uniqueEmail, control, PASSWORD } from './emulator.mjs';

let emu;
let clerk;

before(async () => {
  emu = await startEmulator();
  clerk = createClerkClient({
    secretKey: emu.secret_key,
    apiUrl: emu.url,
    publishableKey: emu.publishable_key,
    // No telemetry from tests (the collector would otherwise sample events to Clerk).
    telemetry: { disabled: true },
  });
});

after(async () => {
  await emu?.stop();
});

/** Asserts that `promise` rejects with a ClerkAPIResponseError of that status and error code. */
async function rejectsWithClerkError(promise, status, code) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.clerkError, true, `expected a ClerkAPIResponseError, got ${err}`);
    assert.equal(err.status, status);
    assert.equal(err.errors?.[0]?.code, code, JSON.stringify(err.errors));
    return true;
  });
}

describe('testing tokens', { timeout: 120_000 }, () => {
  test('testingTokens.createTestingToken: a token that skips the Frontend API rate limits', { timeout: 60_000 }, async () => {
    const t = await clerk.testingTokens.createTestingToken();
    assert.equal(t.object, 'testing_token');
    assert.equal(typeof t.token, 'string');
    // This @clerk/backend hands the JSON back as it came (its deserializer has no testing_token
    // case), so the field is `expires_at`; a later one may map it to `expiresAt`.
    const expiresAt = t.expiresAt ?? t.expires_at;
    const nowSecs = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(expiresAt - (nowSecs + 3600)) < 120, `expires_at in Unix seconds: ${expiresAt}`);
    await control(emu.url, 'PATCH', '/instance', {
      settings: { rate_limits: { enabled: true, sign_in_create: { max: 1, window_secs: 60 } } },
    });
    try {
      const signIn = (query) => fetch(`${emu.url}/v1/client/sign_ins?_is_native=true${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ identifier: uniqueEmail('nobody') }),
      });
      for (let i = 0; i < 3; i++) {
        const r = await signIn(`&__clerk_testing_token=${encodeURIComponent(t.token)}`);
        assert.equal(r.status, 422, 'the testing token is not counted');
      }
      assert.equal((await signIn('')).status, 422);
      const limited = await signIn('');
      assert.equal(limited.status, 429);
      assert.match(limited.headers.get('retry-after'), /^\d+$/);
      const body = await limited.json();
      assert.equal(body.errors[0].code, 'too_many_requests');
    } finally {
      await control(emu.url, 'PATCH', '/instance', { settings: { rate_limits: { enabled: false } } });
    }
  });
});

describe('users', { timeout: 120_000 }, () => {
  test('createUser → getUser → updateUser → updateUserMetadata → ban/unban → deleteUser', { timeout: 60_000 }, async () => {
    const email = uniqueEmail('alice');
    const before = Date.now();
    const created = await clerk.users.createUser({
      emailAddress: [email],
      password: PASSWORD,
      firstName: 'Alice',
      lastName: 'Liddell',
      externalId: 'ext-alice-1',
      publicMetadata: { plan: 'free', nested: { a: 1 } },
      privateMetadata: { secret: 's1' },
    });
    assert.match(created.id, /^user_/);
    assert.equal(created.firstName, 'Alice');
    assert.equal(created.lastName, 'Liddell');
    assert.equal(created.fullName, 'Alice Liddell');
    assert.equal(created.externalId, 'ext-alice-1');
    assert.equal(created.passwordEnabled, true);
    assert.equal(created.banned, false);
    assert.equal(created.locked, false);
    assert.equal(created.emailAddresses.length, 1);
    assert.equal(created.emailAddresses[0].emailAddress, email);
    assert.match(created.emailAddresses[0].id, /^idn_/);
    assert.equal(created.emailAddresses[0].verification?.status, 'verified');
    assert.equal(created.primaryEmailAddressId, created.emailAddresses[0].id);
    assert.equal(created.primaryEmailAddress?.emailAddress, email);
    assert.deepEqual(created.publicMetadata, { plan: 'free', nested: { a: 1 } });
    assert.deepEqual(created.privateMetadata, { secret: 's1' });
    assert.deepEqual(created.unsafeMetadata, {});
    // Timestamps are milliseconds since the epoch.
    assert.ok(created.createdAt >= before - 5_000 && created.createdAt <= Date.now() + 5_000, `createdAt ${created.createdAt}`);
    assert.equal(created.updatedAt, created.createdAt);

    const fetched = await clerk.users.getUser(created.id);
    assert.equal(fetched.id, created.id);
    assert.equal(fetched.primaryEmailAddress?.emailAddress, email);
    assert.deepEqual(fetched.privateMetadata, { secret: 's1' });

    const updated = await clerk.users.updateUser(created.id, { firstName: 'Alicia', externalId: 'ext-alice-2' });
    assert.equal(updated.id, created.id);
    assert.equal(updated.firstName, 'Alicia');
    assert.equal(updated.lastName, 'Liddell');
    assert.equal(updated.externalId, 'ext-alice-2');
    assert.ok(updated.updatedAt >= created.updatedAt);

    // PATCH /users/{id}/metadata deep-merges; null removes a key.
    const merged = await clerk.users.updateUserMetadata(created.id, {
      publicMetadata: { nested: { b: 2 }, plan: null },
      privateMetadata: { other: true },
      unsafeMetadata: { theme: 'dark' },
    });
    assert.deepEqual(merged.publicMetadata, { nested: { a: 1, b: 2 } });
    assert.deepEqual(merged.privateMetadata, { secret: 's1', other: true });
    assert.deepEqual(merged.unsafeMetadata, { theme: 'dark' });
    assert.deepEqual((await clerk.users.getUser(created.id)).publicMetadata, { nested: { a: 1, b: 2 } });

    const banned = await clerk.users.banUser(created.id);
    assert.equal(banned.id, created.id);
    assert.equal(banned.banned, true);
    assert.equal((await clerk.users.getUser(created.id)).banned, true);
    const unbanned = await clerk.users.unbanUser(created.id);
    assert.equal(unbanned.banned, false);

    const deleted = await clerk.users.deleteUser(created.id);
    assert.equal(deleted.id, created.id);
    assert.equal(deleted.deleted, true);
    assert.equal(deleted.object, 'user');
    await rejectsWithClerkError(clerk.users.getUser(created.id), 404, 'resource_not_found');
  });

  // @clerk/backend 3.x sends `updateUser(id, {publicMetadata|privateMetadata|unsafeMetadata})` and
  // `replaceUserMetadata` as PUT /v1/users/{id}/metadata (full replacement; see
  // node_modules/@clerk/backend/dist/chunk-WJJ2QJZH.mjs, UserAPI.updateUser / replaceUserMetadata).
  test('updateUser with metadata (PUT /v1/users/{id}/metadata replaces)', {
    timeout: 60_000,
  }, async () => {
    const user = await clerk.users.createUser({
      emailAddress: [uniqueEmail('meta')],
      password: PASSWORD,
      publicMetadata: { keep: false, old: 1 },
    });
    const replaced = await clerk.users.updateUser(user.id, { firstName: 'Meta', publicMetadata: { fresh: 2 } });
    assert.equal(replaced.firstName, 'Meta');
    assert.deepEqual(replaced.publicMetadata, { fresh: 2 });
    // Omitted top-level fields are left alone; a provided one is replaced in full (no merge).
    const replaced2 = await clerk.users.replaceUserMetadata(user.id, { privateMetadata: { p: 1 } });
    assert.deepEqual(replaced2.privateMetadata, { p: 1 });
    assert.deepEqual(replaced2.publicMetadata, { fresh: 2 });
    const cleared = await clerk.users.replaceUserMetadata(user.id, { publicMetadata: {} });
    assert.deepEqual(cleared.publicMetadata, {});
    assert.deepEqual(cleared.privateMetadata, { p: 1 });
  });

  test('verifyPassword, lockUser/unlockUser, getCount', { timeout: 60_000 }, async () => {
    const email = uniqueEmail('lock');
    const user = await clerk.users.createUser({ emailAddress: [email], password: PASSWORD });
    assert.deepEqual(await clerk.users.verifyPassword({ userId: user.id, password: PASSWORD }), { verified: true });
    await rejectsWithClerkError(
      clerk.users.verifyPassword({ userId: user.id, password: 'not-the-password-1234' }),
      422,
      'form_password_incorrect',
    );
    const locked = await clerk.users.lockUser(user.id);
    assert.equal(locked.locked, true);
    // 422 with the lockout's duration in meta, as Clerk's own lockout fixture.
    await assert.rejects(fapiSignIn(emu.url, email), /HTTP 422: .*"code":"user_locked"/);
    const unlocked = await clerk.users.unlockUser(user.id);
    assert.equal(unlocked.locked, false);
    const s = await fapiSignIn(emu.url, email);
    assert.match(s.sessionId, /^sess_/);
    assert.equal(await clerk.users.getCount({ emailAddress: [email] }), 1);
  });

  // The spec marks these booleans `nullable: true` (bapi-2026-05-12.yml, CreateUser and UpdateUser
  // bodies); @clerk/backend's request builder JSON.stringify()s whatever it is given, so an explicit
  // null reaches the server.
  test('nullable booleans accept null (skipPasswordChecks, signOutOfOtherSessions)', {
    timeout: 60_000,
  }, async () => {
    const user = await clerk.users.createUser({
      emailAddress: [uniqueEmail('nulls')],
      password: PASSWORD,
      skipPasswordChecks: null,
      skipPasswordRequirement: null,
    });
    const updated = await clerk.users.updateUser(user.id, {
      firstName: 'Nully',
      skipPasswordChecks: null,
      signOutOfOtherSessions: null,
    });
    assert.equal(updated.firstName, 'Nully');
  });

  test('createUser rejects a duplicate email with form_identifier_exists', { timeout: 60_000 }, async () => {
    const email = uniqueEmail('dup');
    await clerk.users.createUser({ emailAddress: [email], password: PASSWORD });
    await rejectsWithClerkError(
      clerk.users.createUser({ emailAddress: [email], password: PASSWORD }),
      422,
      'form_identifier_exists',
    );
  });

  test('getUserList: emailAddress, query, externalId filters; limit/offset; totalCount', { timeout: 60_000 }, async () => {
    const tag = `zq${Math.random().toString(36).slice(2, 8)}`;
    const users = [];
    for (let i = 0; i < 5; i++) {
      users.push(
        await clerk.users.createUser({
          emailAddress: [`${tag}-${i}@example.com`],
          password: PASSWORD,
          firstName: i === 3 ? 'Zebediah' : `Person${i}`,
          externalId: `${tag}-ext-${i}`,
        }),
      );
    }

    const byEmail = await clerk.users.getUserList({ emailAddress: [`${tag}-2@example.com`] });
    assert.equal(byEmail.totalCount, 1);
    assert.deepEqual(byEmail.data.map((u) => u.id), [users[2].id]);

    const byTwoEmails = await clerk.users.getUserList({
      emailAddress: [`${tag}-0@example.com`, `${tag}-4@example.com`],
    });
    assert.equal(byTwoEmails.totalCount, 2);
    assert.deepEqual(new Set(byTwoEmails.data.map((u) => u.id)), new Set([users[0].id, users[4].id]));

    const byExternalId = await clerk.users.getUserList({ externalId: [`${tag}-ext-1`] });
    assert.deepEqual(byExternalId.data.map((u) => u.id), [users[1].id]);

    const byUserId = await clerk.users.getUserList({ userId: [users[0].id, users[3].id] });
    assert.equal(byUserId.totalCount, 2);

    const byQuery = await clerk.users.getUserList({ query: tag });
    assert.equal(byQuery.totalCount, 5);
    assert.equal(byQuery.data.length, 5);
    const byName = await clerk.users.getUserList({ query: 'Zebediah' });
    assert.deepEqual(byName.data.map((u) => u.id), [users[3].id]);

    const none = await clerk.users.getUserList({ emailAddress: ['nobody-at-all@example.com'] });
    assert.equal(none.totalCount, 0);
    assert.deepEqual(none.data, []);

    // Newest first by default; pages are disjoint and cover the set.
    const page1 = await clerk.users.getUserList({ query: tag, limit: 2, offset: 0 });
    const page2 = await clerk.users.getUserList({ query: tag, limit: 2, offset: 2 });
    const page3 = await clerk.users.getUserList({ query: tag, limit: 2, offset: 4 });
    assert.equal(page1.data.length, 2);
    assert.equal(page2.data.length, 2);
    assert.equal(page3.data.length, 1);
    assert.equal(page1.totalCount, 5, 'totalCount ignores limit/offset');
    const paged = [...page1.data, ...page2.data, ...page3.data].map((u) => u.id);
    assert.deepEqual(paged, users.map((u) => u.id).reverse());

    const oldestFirst = await clerk.users.getUserList({ query: tag, orderBy: '+created_at', limit: 1 });
    assert.equal(oldestFirst.data[0].id, users[0].id);
  });
});

describe('sessions and tokens', { timeout: 120_000 }, () => {
  let user;
  let signIn;

  before(async () => {
    const email = uniqueEmail('bob');
    user = await clerk.users.createUser({ emailAddress: [email], password: PASSWORD, firstName: 'Bob' });
    signIn = await fapiSignIn(emu.url, email);
  });

  test('getSessionList by userId and clientId', { timeout: 60_000 }, async () => {
    const list = await clerk.sessions.getSessionList({ userId: user.id });
    assert.equal(list.totalCount, 1);
    assert.equal(list.data.length, 1);
    const [s] = list.data;
    assert.equal(s.id, signIn.sessionId);
    assert.equal(s.userId, user.id);
    assert.equal(s.clientId, signIn.clientId);
    assert.equal(s.status, 'active');
    assert.ok(s.expireAt > Date.now() + 6 * 86_400_000, `expireAt ${s.expireAt} is ~7 days out (ms)`);
    assert.ok(s.lastActiveAt <= Date.now() + 5_000);

    const byClient = await clerk.sessions.getSessionList({ clientId: signIn.clientId });
    assert.deepEqual(byClient.data.map((x) => x.id), [signIn.sessionId]);

    const single = await clerk.sessions.getSession(signIn.sessionId);
    assert.equal(single.id, signIn.sessionId);
    assert.equal(single.status, 'active');
  });

  test('sessions.getToken mints a session token that verifyToken accepts (JWKS from apiUrl)', { timeout: 60_000 }, async () => {
    const token = await clerk.sessions.getToken(signIn.sessionId);
    assert.equal(typeof token.jwt, 'string');
    const header = jwtHeader(token.jwt);
    assert.equal(header.alg, 'RS256');
    assert.match(header.kid, /^ins_/);

    // No jwtKey: @clerk/backend fetches {apiUrl}/v1/jwks with the secret key.
    const claims = await verifyToken(token.jwt, { secretKey: emu.secret_key, apiUrl: emu.url });
    assert.equal(claims.sub, user.id);
    assert.equal(claims.sid, signIn.sessionId);
    assert.equal(claims.iss, emu.url);
    assert.equal(claims.v, 2);
    assert.equal(claims.exp - claims.iat, 60);
    assert.equal(claims.iat - claims.nbf, 10);
  });

  test('verifyToken accepts a FAPI-minted token and rejects a tampered one', { timeout: 60_000 }, async () => {
    const jwt = await fapiMint(emu.url, signIn.clientToken, signIn.sessionId);
    const claims = await verifyToken(jwt, { secretKey: emu.secret_key, apiUrl: emu.url, issuer: emu.url });
    assert.equal(claims.sub, user.id);
    assert.equal(claims.sid, signIn.sessionId);
    assert.equal(claims.azp, undefined, 'no azp for native (Origin-less) requests');
    assert.deepEqual(claims.fva, [0, -1]);

    const [h, p, s] = jwt.split('.');
    const forged = Buffer.from(JSON.stringify({ ...jwtPayload(jwt), sub: 'user_someone_else' })).toString('base64url');
    await assert.rejects(
      verifyToken(`${h}.${forged}.${s}`, { secretKey: emu.secret_key, apiUrl: emu.url }),
      (err) => err.reason === 'token-invalid-signature',
    );
    await assert.rejects(
      verifyToken(jwt, { secretKey: emu.secret_key, apiUrl: emu.url, issuer: 'https://clerk.example.com' }),
      (err) => err.reason === 'token-invalid-issuer',
    );
    // A wrong secret key: /v1/jwks answers clerk_key_invalid, which the SDK turns into its own reason
    // (after its retries, ~3 s).
    await assert.rejects(
      verifyToken(jwt, { secretKey: 'sk_test_wrong_key_0000000000', apiUrl: emu.url }),
      (err) => err.reason === 'secret-key-invalid',
    );
  });

  test('authenticateRequest: Bearer session token from a FAPI sign-in is signed in', { timeout: 60_000 }, async () => {
    const jwt = await fapiMint(emu.url, signIn.clientToken, signIn.sessionId);
    const request = new Request('http://127.0.0.1:9/api/me', {
      headers: { Authorization: `Bearer ${jwt}`, Accept: 'application/json' },
    });
    const state = await clerk.authenticateRequest(request);
    assert.equal(state.reason, null, `${state.reason}: ${state.message}`);
    assert.equal(state.status, 'signed-in');
    assert.equal(state.isSignedIn, true);
    assert.equal(state.token, jwt);
    const auth = state.toAuth();
    assert.equal(auth.userId, user.id);
    assert.equal(auth.sessionId, signIn.sessionId);
    assert.equal(auth.sessionClaims.iss, emu.url);
    assert.equal(state.publishableKey, emu.publishable_key);
    assert.equal(state.isSatellite, false);

    // The publishable key decodes to the emulator's host:port (what parsePublishableKey checks).
    const decoded = Buffer.from(emu.publishable_key.split('_')[2], 'base64').toString();
    assert.equal(decoded, `${new URL(emu.url).host}$`);
  });

  test('authenticateRequest: garbage, forged and missing tokens are signed out', { timeout: 60_000 }, async () => {
    const jwt = await fapiMint(emu.url, signIn.clientToken, signIn.sessionId);
    const [h, , s] = jwt.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...jwtPayload(jwt), sub: 'user_x' })).toString('base64url')}.${s}`;
    for (const [authorization, reason] of [
      [`Bearer ${forged}`, 'token-invalid-signature'],
      ['Bearer not-a-jwt', 'token-invalid'],
    ]) {
      const state = await clerk.authenticateRequest(
        new Request('http://127.0.0.1:9/api/me', { headers: { Authorization: authorization } }),
      );
      assert.equal(state.status, 'signed-out');
      assert.equal(state.isSignedIn, false);
      assert.equal(state.reason, reason);
    }
    const anon = await clerk.authenticateRequest(new Request('http://127.0.0.1:9/api/me'));
    assert.equal(anon.isSignedIn, false);
    assert.equal(anon.toAuth().userId, null);
  });

  test('revokeSession: status revoked, the Frontend API stops minting, lists filter by status', { timeout: 60_000 }, async () => {
    const email = uniqueEmail('carol');
    const carol = await clerk.users.createUser({ emailAddress: [email], password: PASSWORD });
    const a = await fapiSignIn(emu.url, email);
    const b = await fapiSignIn(emu.url, email);
    assert.notEqual(a.sessionId, b.sessionId);

    const all = await clerk.sessions.getSessionList({ userId: carol.id });
    assert.equal(all.totalCount, 2);
    // Newest first.
    assert.deepEqual(all.data.map((x) => x.id), [b.sessionId, a.sessionId]);

    const revoked = await clerk.sessions.revokeSession(a.sessionId);
    assert.equal(revoked.id, a.sessionId);
    assert.equal(revoked.status, 'revoked');
    assert.equal((await clerk.sessions.getSession(a.sessionId)).status, 'revoked');

    const active = await clerk.sessions.getSessionList({ userId: carol.id, status: 'active' });
    assert.deepEqual(active.data.map((x) => x.id), [b.sessionId]);
    const revokedList = await clerk.sessions.getSessionList({ userId: carol.id, status: 'revoked' });
    assert.deepEqual(revokedList.data.map((x) => x.id), [a.sessionId]);

    const mint = await fetch(`${emu.url}/v1/client/sessions/${a.sessionId}/tokens?_is_native=true`, {
      method: 'POST',
      headers: { authorization: a.clientToken },
    });
    // A revoked session mints nothing, through either API: 401 authentication_invalid (a status
    // both specs document for these operations), which is what makes a native client sign out.
    const mintBody = await mint.json();
    assert.equal(mint.status, 401, `minting for a revoked session: ${JSON.stringify(mintBody)}`);
    assert.equal(mintBody.errors?.[0]?.code, 'authentication_invalid', JSON.stringify(mintBody));
    await rejectsWithClerkError(clerk.sessions.getToken(a.sessionId), 401, 'authentication_invalid');

    // The other session still works end to end.
    const jwt = await fapiMint(emu.url, b.clientToken, b.sessionId);
    const claims = await verifyToken(jwt, { secretKey: emu.secret_key, apiUrl: emu.url });
    assert.equal(claims.sid, b.sessionId);
  });

  test('a banned user cannot sign in through the Frontend API', { timeout: 60_000 }, async () => {
    const email = uniqueEmail('dave');
    const dave = await clerk.users.createUser({ emailAddress: [email], password: PASSWORD });
    const s = await fapiSignIn(emu.url, email);
    await clerk.users.banUser(dave.id);
    // Banning revokes the user's sessions.
    const list = await clerk.sessions.getSessionList({ userId: dave.id, status: 'active' });
    assert.deepEqual(list.data, []);
    assert.notEqual((await clerk.sessions.getSession(s.sessionId)).status, 'active');
    await assert.rejects(fapiSignIn(emu.url, email), /HTTP 403: .*"code":"user_banned"/);
  });
});

// --- second factors --------------------------------------------------------------------------

/** RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s) written here, independent of the emulator's. */
function totp(base32Secret, unixMs) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Secret.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixMs / 1000 / 30)));
  const hash = createHmac('sha1', key).update(counter).digest();
  const offset = hash[hash.length - 1] & 0x0f;
  const value = (hash.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}

/** A native Frontend API call with the client token. */
async function fapi(clientToken, method, path, form = {}) {
  const res = await fetch(`${emu.url}${path}?_is_native=true`, {
    method,
    headers: { authorization: clientToken, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.response;
}

/** Enrols an authenticator app for a new user through the Frontend API: user id, secret, backup codes. */
async function userWithTotp(tag) {
  const email = uniqueEmail(tag);
  const user = await clerk.users.createUser({ emailAddress: [email], password: PASSWORD });
  const s = await fapiSignIn(emu.url, email);
  const created = await fapi(s.clientToken, 'POST', '/v1/me/totp');
  assert.match(created.uri, /^otpauth:\/\/totp\//);
  const now = (await control(emu.url, 'GET', '/time')).now;
  const verified = await fapi(s.clientToken, 'POST', '/v1/me/totp/attempt_verification', {
    code: totp(created.secret, now),
  });
  assert.equal(verified.verified, true);
  return { userId: user.id, secret: created.secret, backupCodes: verified.backup_codes };
}

describe('second factors', { timeout: 120_000 }, () => {
  test('verifyTOTP with a TOTP code and a backup code; a wrong or replayed code is 422', async () => {
    const { userId, secret, backupCodes } = await userWithTotp('totp');
    assert.equal((await clerk.users.getUser(userId)).totpEnabled, true);
    await control(emu.url, 'POST', '/time/advance', { seconds: 30 });
    const code = totp(secret, (await control(emu.url, 'GET', '/time')).now);
    const ok = await clerk.users.verifyTOTP({ userId, code });
    assert.equal(ok.verified, true);
    assert.equal(ok.code_type ?? ok.codeType, 'totp');
    await rejectsWithClerkError(clerk.users.verifyTOTP({ userId, code }), 422, 'form_code_incorrect');
    const backup = await clerk.users.verifyTOTP({ userId, code: backupCodes[0] });
    assert.equal(backup.code_type ?? backup.codeType, 'backup_code');
    await rejectsWithClerkError(clerk.users.verifyTOTP({ userId, code: backupCodes[0] }), 422, 'form_code_incorrect');
  });

  test('deleteUserBackupCodes, deleteUserTOTP, disableUserMFA', async () => {
    const { userId } = await userWithTotp('mfa-off');
    await clerk.users.deleteUserBackupCodes(userId);
    let user = await clerk.users.getUser(userId);
    assert.equal(user.backupCodeEnabled, false);
    assert.equal(user.twoFactorEnabled, true);
    await clerk.users.deleteUserTOTP(userId);
    user = await clerk.users.getUser(userId);
    assert.equal(user.totpEnabled, false);
    assert.equal(user.twoFactorEnabled, false);
    await rejectsWithClerkError(clerk.users.deleteUserTOTP(userId), 404, 'resource_not_found');

    const again = await userWithTotp('mfa-all');
    assert.equal((await clerk.users.getUser(again.userId)).twoFactorEnabled, true);
    await clerk.users.disableUserMFA(again.userId);
    user = await clerk.users.getUser(again.userId);
    assert.equal(user.twoFactorEnabled, false);
    assert.equal(user.backupCodeEnabled, false);
    await rejectsWithClerkError(clerk.users.verifyTOTP({ userId: again.userId, code: '123456' }), 400, 'request_invalid_for_status');
  });
});

describe('email addresses and phone numbers', { timeout: 120_000 }, () => {
  test('emailAddresses: create → get → update (verified, primary) → delete', { timeout: 60_000 }, async () => {
    const user = await clerk.users.createUser({ emailAddress: [uniqueEmail('owner')], password: PASSWORD });
    const second = uniqueEmail('second');
    const created = await clerk.emailAddresses.createEmailAddress({ userId: user.id, emailAddress: second });
    assert.match(created.id, /^idn_/);
    assert.equal(created.emailAddress, second);
    assert.equal(created.verification, null, 'unverified: no verification yet');
    const fetched = await clerk.emailAddresses.getEmailAddress(created.id);
    assert.equal(fetched.emailAddress, second);
    const updated = await clerk.emailAddresses.updateEmailAddress(created.id, { verified: true, primary: true });
    assert.equal(updated.verification?.status, 'verified');
    const after = await clerk.users.getUser(user.id);
    assert.equal(after.primaryEmailAddressId, created.id);
    assert.equal(after.primaryEmailAddress?.emailAddress, second);
    await rejectsWithClerkError(
      clerk.emailAddresses.createEmailAddress({ userId: user.id, emailAddress: second }),
      422,
      'form_identifier_exists',
    );
    const deleted = await clerk.emailAddresses.deleteEmailAddress(created.id);
    assert.equal(deleted.deleted, true);
    assert.equal(deleted.id, created.id);
    assert.equal(deleted.object, 'email_address');
    await rejectsWithClerkError(clerk.emailAddresses.getEmailAddress(created.id), 404, 'resource_not_found');
    const back = await clerk.users.getUser(user.id);
    assert.equal(back.emailAddresses.length, 1);
    assert.equal(back.primaryEmailAddressId, back.emailAddresses[0].id, 'the remaining address is primary again');
  });

  test('phoneNumbers: create → get → update → delete', { timeout: 60_000 }, async () => {
    const user = await clerk.users.createUser({ emailAddress: [uniqueEmail('phoner')], password: PASSWORD });
    const created = await clerk.phoneNumbers.createPhoneNumber({
      userId: user.id,
      phoneNumber: '+1 201 555 0161',
      verified: true,
    });
    assert.match(created.id, /^idn_/);
    assert.equal(created.phoneNumber, '+12015550161');
    assert.equal(created.verification?.status, 'verified');
    const fetched = await clerk.phoneNumbers.getPhoneNumber(created.id);
    assert.equal(fetched.phoneNumber, '+12015550161');
    const withPhone = await clerk.users.getUser(user.id);
    assert.equal(withPhone.primaryPhoneNumberId, created.id, 'the first verified phone is primary');
    const other = await clerk.phoneNumbers.createPhoneNumber({ userId: user.id, phoneNumber: '+12015550162' });
    assert.equal(other.verification, null);
    const verified = await clerk.phoneNumbers.updatePhoneNumber(other.id, { verified: true, primary: true });
    assert.equal(verified.verification?.status, 'verified');
    assert.equal((await clerk.users.getUser(user.id)).primaryPhoneNumberId, other.id);
    await rejectsWithClerkError(
      clerk.phoneNumbers.createPhoneNumber({ userId: user.id, phoneNumber: 'not a number' }),
      422,
      'form_param_format_invalid',
    );
    const deleted = await clerk.phoneNumbers.deletePhoneNumber(created.id);
    assert.equal(deleted.deleted, true);
    assert.equal(deleted.id, created.id);
    await rejectsWithClerkError(clerk.phoneNumbers.getPhoneNumber(created.id), 404, 'resource_not_found');
    assert.equal((await clerk.users.getUser(user.id)).phoneNumbers.length, 1);
  });
});
