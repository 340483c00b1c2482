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
import { spawn, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const need = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} must name the built binary`)
  return v
}
const APP_ID = `dev.latchkey.tauri-app.e2e.${process.pid}`
const EMAIL = `notes-${process.pid}@example.com`
const PASSWORD = 'lk-Test-pass-4921'
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf'

const children = []
function start(bin, args, env = {}) {
  const child = spawn(bin, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true, // its own process group: stopped whole (WebKitWebDriver and the app)
  })
  children.push(child)
  return child
}
function stopAll() {
  for (const c of children.reverse()) {
    try {
      process.kill(-c.pid, 'SIGTERM')
    } catch {}
  }
}

const firstLine = (child) =>
  new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout })
    rl.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready`)))
  })

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function waitFor(what, fn, ms = 20000) {
  const until = Date.now() + ms
  let last
  while (Date.now() < until) {
    try {
      last = await fn()
      if (last) return last
    } catch (e) {
      last = e
    }
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`)
}

// A minimal W3C WebDriver client over fetch (keep-alive).
function webdriver(base) {
  const call = async (method, path, body) => {
    const res = await fetch(base + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const json = await res.json()
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.value)}`)
    return json.value
  }
  return {
    async session(binary, env) {
      const v = await call('POST', '/session', {
        capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary, args: [] } } },
      })
      const sid = v.sessionId
      const s = (p) => `/session/${sid}${p}`
      const el = async (css) => (await call('POST', s('/element'), { using: 'css selector', value: css }))[ELEMENT]
      return {
        quit: () => call('DELETE', s('')),
        js: (script, ...args) => call('POST', s('/execute/sync'), { script, args }),
        type: async (css, text) => call('POST', s(`/element/${await el(css)}/value`), { text }),
        click: async (css) => call('POST', s(`/element/${await el(css)}/click`), {}),
        text: async (css) => call('GET', s(`/element/${await el(css)}/text`)),
        screenshot: () => call('GET', s('/screenshot')),
      }
    },
  }
}

const visible = (app, id) => app.js(`return !document.getElementById(${JSON.stringify(id)}).hidden`)
const errorText = (app) => app.js(`const e = document.getElementById('error'); return e.hidden ? '' : e.textContent`)

async function waitVisible(app, id) {
  return waitFor(`#${id}`, async () => {
    const err = await errorText(app)
    if (err) throw new Error(`the app shows an error: ${err}`)
    return visible(app, id)
  })
}

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

  const emu = start(need('AUTH_EMULATOR_BIN'), ['start', '--ephemeral', '--port', '0', '--json'])
  const ready = JSON.parse(await firstLine(emu))

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

  const wdPort = await freePort()
  start('WebKitWebDriver', [`--port=${wdPort}`], {
    TAURI_WEBVIEW_AUTOMATION: 'true',
    LATCHKEY_FRONTEND_API_URL: ready.frontend_api_url,
    LATCHKEY_APP_ID: APP_ID,
    NOTES_API_URL: apiUrl,
  })
  const wd = webdriver(`http://127.0.0.1:${wdPort}`)
  await waitFor('WebKitWebDriver', async () => (await fetch(`http://127.0.0.1:${wdPort}/status`)).ok)
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
