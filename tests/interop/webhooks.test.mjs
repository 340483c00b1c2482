// Real webhook deliveries from a real auth-emulator process, verified by @clerk/backend's
// verifyWebhook and by the svix package.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createClerkClient } from '@clerk/backend';
import { verifyWebhook } from '@clerk/backend/webhooks';
import { Webhook, WebhookVerificationError } from 'svix';
import { startEmulator, control, fapiSignIn, uniqueEmail, PASSWORD } from './emulator.mjs';

let emu;
let clerk;
let receiver;
let receiverUrl;
let endpoint; // {id, secret} from the control API
const deliveries = []; // {method, url, headers, raw: Buffer}

before(async () => {
  // The receiver: records every request verbatim and answers 204.
  receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ method: req.method, url: req.url, headers: { ...req.headers }, raw: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}/webhooks/clerk`;

  emu = await startEmulator();
  clerk = createClerkClient({
    secretKey: emu.secret_key,
    apiUrl: emu.url,
    publishableKey: emu.publishable_key,
    telemetry: { disabled: true },
  });
  endpoint = await control(emu.url, 'POST', '/webhooks/endpoints', {
    url: receiverUrl,
    events: ['user.created', 'user.updated', 'user.deleted', 'session.created', 'session.revoked'],
  });
  assert.match(endpoint.id, /./);
  assert.match(endpoint.secret, /^whsec_/);
});

after(async () => {
  await emu?.stop();
  await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve()));
});

/** Waits until the emulator's job queue is idle, then returns the deliveries of `type` about `id`. */
async function deliveriesOf(type, id) {
  await control(emu.url, 'POST', '/jobs/wait_idle', { timeout_ms: 10_000 });
  return deliveries.filter((d) => {
    const body = JSON.parse(d.raw.toString('utf8'));
    return body.type === type && (id === undefined || body.data?.id === id);
  });
}

/** A WHATWG Request rebuilt from a captured delivery, as a Next.js/Express handler would see it. */
function toRequest(d, { body = d.raw, headers = d.headers } = {}) {
  const h = new Headers();
  for (const [k, v] of Object.entries(headers)) {
    if (k === 'host' || k === 'content-length' || k === 'connection' || k === 'transfer-encoding') continue;
    h.set(k, Array.isArray(v) ? v.join(', ') : v);
  }
  return new Request(`http://127.0.0.1${d.url}`, { method: d.method, headers: h, body });
}

function svixHeaders(d) {
  return {
    'svix-id': d.headers['svix-id'],
    'svix-timestamp': d.headers['svix-timestamp'],
    'svix-signature': d.headers['svix-signature'],
  };
}

test('user.created delivery: shape, headers, and @clerk/backend verifyWebhook', { timeout: 120_000 }, async () => {
  const email = uniqueEmail('hook');
  const user = await clerk.users.createUser({ emailAddress: [email], password: PASSWORD, firstName: 'Hooky' });
  const [d, ...more] = await deliveriesOf('user.created', user.id);
  assert.ok(d, `no user.created delivery for ${user.id}; got ${deliveries.length} deliveries`);
  assert.equal(more.length, 0, 'one delivery per event');

  assert.equal(d.method, 'POST');
  assert.equal(d.url, '/webhooks/clerk');
  assert.match(d.headers['content-type'], /^application\/json/);
  assert.match(d.headers['svix-id'], /^msg_/);
  const ts = Number(d.headers['svix-timestamp']);
  assert.ok(Math.abs(ts - Date.now() / 1000) < 300, `svix-timestamp ${ts} is seconds, near now`);
  assert.match(d.headers['svix-signature'], /^v1,[A-Za-z0-9+/]+=*( v1,[A-Za-z0-9+/]+=*)*$/);
  // Standard Webhooks names carry the same values.
  assert.equal(d.headers['webhook-id'], d.headers['svix-id']);
  assert.equal(d.headers['webhook-timestamp'], d.headers['svix-timestamp']);
  assert.equal(d.headers['webhook-signature'], d.headers['svix-signature']);

  const evt = await verifyWebhook(toRequest(d), { signingSecret: endpoint.secret });
  assert.equal(evt.type, 'user.created');
  assert.equal(evt.object, 'event');
  assert.match(evt.instance_id, /^ins_/);
  assert.equal(typeof evt.timestamp, 'number');
  assert.ok(Math.abs(evt.timestamp - Date.now()) < 300_000, `event timestamp ${evt.timestamp} is ms`);
  assert.equal(evt.data.id, user.id);
  assert.equal(evt.data.object, 'user');
  assert.equal(evt.data.first_name, 'Hooky');
  assert.equal(evt.data.email_addresses[0].email_address, email);
  assert.equal(typeof evt.event_attributes?.http_request, 'object');

  // verifyWebhook refuses a modified body and a foreign secret.
  const tampered = Buffer.from(d.raw.toString('utf8').replace('Hooky', 'Hacky'));
  await assert.rejects(verifyWebhook(toRequest(d, { body: tampered }), { signingSecret: endpoint.secret }), /verify/i);
  await assert.rejects(verifyWebhook(toRequest(d), { signingSecret: emu.webhook_secret }), /verify/i);
});

test('svix Webhook.verify on real deliveries; tampering, wrong secret and stale timestamps fail', { timeout: 120_000 }, async () => {
  const email = uniqueEmail('svix');
  const user = await clerk.users.createUser({ emailAddress: [email], password: PASSWORD });
  await clerk.users.updateUser(user.id, { lastName: 'Updated' });
  await clerk.users.deleteUser(user.id);

  const wh = new Webhook(endpoint.secret);
  const [created] = await deliveriesOf('user.created', user.id);
  const [updated] = await deliveriesOf('user.updated', user.id);
  const [deleted] = await deliveriesOf('user.deleted', user.id);
  assert.ok(created && updated && deleted, 'user.created, user.updated and user.deleted were delivered');

  const c = wh.verify(created.raw.toString('utf8'), svixHeaders(created));
  assert.equal(c.type, 'user.created');
  assert.equal(c.data.id, user.id);
  const u = wh.verify(updated.raw.toString('utf8'), svixHeaders(updated));
  assert.equal(u.type, 'user.updated');
  assert.equal(u.data.last_name, 'Updated');
  const del = wh.verify(deleted.raw.toString('utf8'), svixHeaders(deleted));
  assert.equal(del.type, 'user.deleted');
  assert.deepEqual(del.data, { object: 'user', id: user.id, deleted: true });
  // Distinct events have distinct ids.
  assert.equal(new Set([created, updated, deleted].map((d) => d.headers['svix-id'])).size, 3);

  // The webhook-* header names verify too (svix maps them).
  const viaStandard = wh.verify(updated.raw.toString('utf8'), {
    'webhook-id': updated.headers['webhook-id'],
    'webhook-timestamp': updated.headers['webhook-timestamp'],
    'webhook-signature': updated.headers['webhook-signature'],
  });
  assert.equal(viaStandard.data.id, user.id);

  // Tampered payload.
  const body = created.raw.toString('utf8');
  assert.throws(() => wh.verify(body.replace(user.id, 'user_forged'), svixHeaders(created)), WebhookVerificationError);
  assert.throws(() => wh.verify(`${body} `, svixHeaders(created)), WebhookVerificationError);
  // Tampered headers.
  assert.throws(
    () => wh.verify(body, { ...svixHeaders(created), 'svix-id': 'msg_forged' }),
    WebhookVerificationError,
  );
  assert.throws(
    () => wh.verify(body, { ...svixHeaders(created), 'svix-signature': `v1,${Buffer.alloc(32).toString('base64')}` }),
    WebhookVerificationError,
  );
  // Another endpoint's secret.
  assert.throws(() => new Webhook(emu.webhook_secret).verify(body, svixHeaders(created)), WebhookVerificationError);
  // A shifted svix-timestamp: outside svix's 5-minute tolerance, and no longer what was signed.
  const old = String(Number(created.headers['svix-timestamp']) - 600);
  assert.throws(() => wh.verify(body, { ...svixHeaders(created), 'svix-timestamp': old }), WebhookVerificationError);
});

test('session.created and session.revoked deliveries verify and name the session', { timeout: 120_000 }, async () => {
  const email = uniqueEmail('sess');
  const user = await clerk.users.createUser({ emailAddress: [email], password: PASSWORD });
  const s = await fapiSignIn(emu.url, email);
  await clerk.sessions.revokeSession(s.sessionId);

  const wh = new Webhook(endpoint.secret);
  const [createdD] = await deliveriesOf('session.created', s.sessionId);
  const [revokedD] = await deliveriesOf('session.revoked', s.sessionId);
  assert.ok(createdD, 'session.created delivered');
  assert.ok(revokedD, 'session.revoked delivered');
  const created = wh.verify(createdD.raw.toString('utf8'), svixHeaders(createdD));
  assert.equal(created.data.object, 'session');
  assert.equal(created.data.user_id, user.id);
  assert.equal(created.data.status, 'active');
  const revoked = await verifyWebhook(toRequest(revokedD), { signingSecret: endpoint.secret });
  assert.equal(revoked.type, 'session.revoked');
  assert.equal(revoked.data.id, s.sessionId);
  assert.equal(revoked.data.status, 'revoked');

  // The endpoint's event filter holds: nothing outside it was delivered.
  const allowed = new Set(['user.created', 'user.updated', 'user.deleted', 'session.created', 'session.revoked']);
  for (const d of deliveries) assert.ok(allowed.has(JSON.parse(d.raw).type), `unexpected ${JSON.parse(d.raw).type}`);
});

test('--webhook-url deliveries are signed with the webhook_secret printed at start', { timeout: 120_000 }, async () => {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: { ...req.headers }, raw: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/api/webhooks`;
  const emu2 = await startEmulator({ extraArgs: ['--webhook-url', url] });
  try {
    assert.match(emu2.webhook_secret, /^whsec_/);
    const clerk2 = createClerkClient({ secretKey: emu2.secret_key, apiUrl: emu2.url, telemetry: { disabled: true } });
    const user = await clerk2.users.createUser({ emailAddress: [uniqueEmail('inst')], password: PASSWORD });
    await control(emu2.url, 'POST', '/jobs/wait_idle', { timeout_ms: 10_000 });
    const d = got.find((x) => JSON.parse(x.raw).type === 'user.created');
    assert.ok(d, `user.created delivered to --webhook-url; got ${got.map((x) => JSON.parse(x.raw).type)}`);
    // What a Clerk app does with CLERK_WEBHOOK_SIGNING_SECRET.
    const evt = await verifyWebhook(toRequest(d), { signingSecret: emu2.webhook_secret });
    assert.equal(evt.data.id, user.id);
    const viaSvix = new Webhook(emu2.webhook_secret).verify(d.raw.toString('utf8'), svixHeaders(d));
    assert.equal(viaSvix.type, 'user.created');
  } finally {
    await emu2.stop();
    await new Promise((resolve) => server.close(resolve));
  }
});
