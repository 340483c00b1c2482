// End to end: the real Latchkey Notes binary under Xvfb, driven through WebKitWebDriver (what
// tauri-driver runs on Linux), against a real auth-emulator and the example API, with the session
// in a real Secret Service. Run by scripts/test as
//
//   scripts/keyring-session xvfb-run -a -s "-screen 0 1024x768x24" \
//     node --test examples/tauri-app/e2e/restart.test.mjs
//
// with TAURI_APP_BIN, AUTH_EMULATOR_BIN and AXUM_API_BIN naming the built binaries. It signs up
// with the code from the emulator's inbox, lands signed in, calls the API's /me with a session
// token, quits, starts again and is still signed in (from the keychain), signs out, and checks
// that the keychain no longer holds the client token. A screenshot of the signed-in window is
// kept in target/e2e/signed-in.png.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, need, root, start, startEmulator, startWebDriver, stopAll, waitFor, waitVisible } from './harness.mjs'

const APP_ID = `dev.latchkey.tauri-app.e2e.${process.pid}`
const EMAIL = `notes-${process.pid}@example.com`
const PASSWORD = 'lk-Test-pass-4921'

function keychainEntries() {
  // Every item the SDK keeps for this app id, by entry name (`client_token`, `device_id`, …).
  // secret-tool prints an item's secret on stdout and its attributes on stderr.
  const r = spawnSync('secret-tool', ['search', '--all', 'service', APP_ID], { encoding: 'utf8' })
  if (r.error) throw r.error
  const out = `${r.stdout}\n${r.stderr}`
  return [...out.matchAll(/^attribute\.username = (.+)$/gm)].map((m) => m[1])
}

test('sign up, restart signed in from the keychain, sign out', { timeout: 180000 }, async (t) => {
  t.after(stopAll)

  const ready = await startEmulator()

  const apiPort = await freePort()
  const api = start(need('AXUM_API_BIN'), [], {
    LATCHKEY_API_URL: ready.backend_api_url,
    LATCHKEY_SECRET_KEY: ready.secret_key,
    LATCHKEY_WEBHOOK_SECRET: ready.webhook_secret,
    BIND: `127.0.0.1:${apiPort}`,
    CORS_ALLOW_ORIGINS: 'tauri://localhost',
  })
  const apiUrl = `http://127.0.0.1:${apiPort}`
  await waitFor('the API', async () => (await fetch(`${apiUrl}/me`)).status === 401)

  const wd = await startWebDriver({
    LATCHKEY_FRONTEND_API_URL: ready.frontend_api_url,
    LATCHKEY_APP_ID: APP_ID,
    NOTES_API_URL: apiUrl,
  })
  const bin = need('TAURI_APP_BIN')

  // First run: nobody signed in; sign up with the emailed code.
  let app = await wd.session(bin)
  await waitVisible(app, 'signed-out')
  await app.type('#sign-up-email', EMAIL)
  await app.type('#sign-up-password', PASSWORD)
  await app.click('#sign-up-submit')
  await waitVisible(app, 'code-step')
  const msg = await (
    await fetch(`${ready.control_api_url}/messages/latest?to=${encodeURIComponent(EMAIL)}&wait_ms=10000`)
  ).json()
  assert.match(msg.code, /^\d{6}$/)
  await app.type('#code', msg.code)
  await app.click('#code-submit')
  await waitVisible(app, 'signed-in')
  assert.equal(await app.text('#who'), EMAIL)

  // The webview asks the plugin for a session token and calls the API with it.
  await app.click('#me-call')
  await waitVisible(app, 'me-result')
  assert.match(await app.text('#me-result'), new RegExp(`you are ${EMAIL.replace('.', '\\.')}`))
  const sessionId = await app.text('#session-id')

  const shots = join(root, 'target', 'e2e')
  mkdirSync(shots, { recursive: true })
  writeFileSync(join(shots, 'signed-in.png'), Buffer.from(await app.screenshot(), 'base64'))

  assert.ok(keychainEntries().includes('client_token'), 'the client token is in the keychain')
  // The webview never held the client token.
  const stored = await app.js('return JSON.stringify(Object.assign({}, localStorage))')
  assert.ok(!/client|eyJ/.test(stored.replace(/notes:user_[A-Za-z0-9]+/g, '')), stored)
  await app.quit()

  // Second run: signed in straight from the keychain, the same session.
  app = await wd.session(bin)
  await waitVisible(app, 'signed-in')
  assert.equal(await app.text('#who'), EMAIL)
  assert.equal(await app.text('#session-id'), sessionId)

  // Sign out: the signed-out screen, and the client token gone from the keychain.
  await app.click('#sign-out')
  await waitVisible(app, 'signed-out')
  await waitFor('the keychain entry to go', async () => !keychainEntries().includes('client_token'))
  await app.quit()

  // Third run: still signed out.
  app = await wd.session(bin)
  await waitVisible(app, 'signed-out')
  await app.quit()
})
