// What the end-to-end tests of the real Latchkey Notes binary share: starting and stopping the
// processes (each in its own process group), the emulator's readiness line, free ports, waiting,
// a minimal W3C WebDriver client for WebKitWebDriver, and the app's screens.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const need = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} must name the built binary`)
  return v
}
export const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf'

const children = []
export function start(bin, args, env = {}) {
  const child = spawn(bin, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true, // its own process group: stopped whole (WebKitWebDriver and the app)
  })
  children.push(child)
  return child
}
export function stopAll() {
  for (const c of children.reverse()) {
    try {
      process.kill(-c.pid, 'SIGTERM')
    } catch {}
  }
}

export const firstLine = (child) =>
  new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout })
    rl.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready`)))
  })

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// The bound is generous: under a loaded CI machine a keychain write and a Frontend API call can
// take seconds, and the wait ends as soon as the condition holds.
export async function waitFor(what, fn, ms = 60000) {
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
export function webdriver(base) {
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

export const visible = (app, id) => app.js(`return !document.getElementById(${JSON.stringify(id)}).hidden`)
export const errorText = (app) => app.js(`const e = document.getElementById('error'); return e.hidden ? '' : e.textContent`)

export async function waitVisible(app, id) {
  return waitFor(`#${id}`, async () => {
    const err = await errorText(app)
    if (err) throw new Error(`the app shows an error: ${err}`)
    return visible(app, id)
  })
}


/** A fresh in-memory auth-emulator on a free port: its readiness line (URLs and keys). */
export async function startEmulator() {
  const emu = start(need('AUTH_EMULATOR_BIN'), ['start', '--ephemeral', '--port', '0', '--json'])
  return JSON.parse(await firstLine(emu))
}

/** WebKitWebDriver on a free port, the app it starts given `env`; a client for it once it is up. */
export async function startWebDriver(env) {
  const port = await freePort()
  start('WebKitWebDriver', [`--port=${port}`], { TAURI_WEBVIEW_AUTOMATION: 'true', ...env })
  await waitFor('WebKitWebDriver', async () => (await fetch(`http://127.0.0.1:${port}/status`)).ok)
  return webdriver(`http://127.0.0.1:${port}`)
}
