// The React example end to end, offline: Vite builds the app (@clerk/react's ClerkProvider with
// the emulator's browser key and proxyUrl "/__clerk"), `vite preview` serves the build and
// forwards /__clerk/* to the emulator as vite.config.js says, and the emulator serves clerk-js
// and the @clerk/ui bundle from this app's node_modules (--clerk-js-dir). Real Chromium then
//   - signs in through @clerk/ui's <SignIn /> (mounted by clerk.mountSignIn), keeping a
//     screenshot of the component as a test artifact, and gets a session token the emulator's
//     JWKS verifies; and through Clerk.mountSignIn itself on a page without React;
//   - signs in with @clerk/testing: clerkSetup against the emulator's Backend API, then
//     clerk.signIn in its password, sign-in-token (ticket) and emailAddress forms, and its
//     testing token (sent on the app's proxy path) past bot protection;
//   - solves a requires_captcha challenge in @clerk/ui's modal and signs in.
//
//   cargo build -p latchkey-emulator --bin auth-emulator
//   (cd examples/react-app && npm ci && node --test e2e/)
//
// Environment: AUTH_EMULATOR_BIN (default target/debug/auth-emulator), CHROMIUM_PATH,
// LATCHKEY_ARTIFACTS (where screenshots go; default target/test-artifacts).

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { build, preview } from 'vite'
import { clerk, clerkSetup } from '@clerk/testing/playwright'
import {
  REPO_ROOT,
  bapi as bapiCall,
  control as controlApi,
  startEmulator,
  verifySessionToken,
} from '../../../tests/interop/emulator.mjs'
import { chromiumOptions } from '../../../tests/interop/chromium.mjs'

const APP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ARTIFACTS = process.env.LATCHKEY_ARTIFACTS || path.join(REPO_ROOT, 'target', 'test-artifacts')
const PASSWORD = 'lk-React-pass-7313'
const WAIT = { timeout: 20_000 }

let emulator
let server // vite preview
/** Requests the pages made for other hosts (refused): `<resource type> <url>`. */
const outside = []
let browser
let origin

const bapi = (method, route, body) => bapiCall(emulator, method, route, body)
const control = (method, route, body) => controlApi(emulator.url, method, route, body)
const verifyToken = (jwt) => verifySessionToken(emulator, jwt)

async function createUser(tag) {
  const email = `react-${tag}-${process.pid}@example.com`
  const user = await bapi('POST', '/v1/users', { email_address: [email], password: PASSWORD })
  return { email, user }
}

/**
 * A fresh browser context on the app at `at`, with page errors and the Frontend API calls
 * (`<status> <method> <path>`) collected. clerk-js loads Turnstile from Cloudflare's URL, which
 * is routed to the emulator's test widget (no network here). `testingToken`: added to every
 * Frontend API request on the app's proxy path, which @clerk/testing's own route
 * (`^https://<publishable key's host>/v1/`) does not match.
 */
async function openApp(at = '/', { testingToken } = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
  // Offline: anything for another host is refused and noted (routes registered later, below,
  // are tried first).
  await context.route((url) => url.hostname !== '127.0.0.1', (route) => {
    outside.push(`${route.request().resourceType()} ${route.request().url()}`)
    return route.abort()
  })
  if (testingToken) {
    await context.route('**/__clerk/v1/**', (route) => {
      const url = new URL(route.request().url())
      url.searchParams.set('__clerk_testing_token', testingToken)
      return route.continue({ url: url.toString() })
    })
  }
  await context.route(/^https:\/\/challenges\.cloudflare\.com\/turnstile\/v0\/api\.js/, async (route) => {
    const res = await fetch(`${emulator.url}/captcha/turnstile/v0/api.js`)
    await route.fulfill({ status: res.status, contentType: 'text/javascript', body: await res.text() })
  })
  const page = await context.newPage()
  const errors = []
  const fapi = []
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('response', (r) => {
    const url = new URL(r.url())
    if (url.pathname.startsWith('/__clerk/v1/')) fapi.push(`${r.status()} ${r.request().method()} ${url.pathname.slice(8)}`)
  })
  await page.goto(origin + at)
  await page.waitForFunction(() => window.Clerk?.loaded === true, null, WAIT)
  return { page, errors, fapi, close: () => context.close() }
}

/**
 * Signs in through @clerk/ui's sign-in component, as a person types it, keeping a screenshot of
 * the component as it first shows (`screenshot`, a file name in ARTIFACTS).
 */
async function signInThroughComponent(page, email, screenshot) {
  const identifier = page.locator('input[name="identifier"]')
  await identifier.waitFor(WAIT)
  await page.screenshot({ path: path.join(ARTIFACTS, screenshot) })
  await identifier.fill(email)
  await page.locator('.cl-formButtonPrimary').click()
  const password = page.locator('input[name="password"]')
  await password.waitFor(WAIT)
  await password.fill(PASSWORD)
  await page.locator('.cl-formButtonPrimary').click()
}

/**
 * Sends this process's `fetch` requests for `from` (an origin) to `to` instead, at Node's global
 * HTTP dispatcher (undici's, which every `fetch` here goes through, whichever copy of it a
 * package captured). Returns the function that undoes it.
 */
function routeHost(from, to) {
  const key = Symbol.for('undici.globalDispatcher.1')
  const original = globalThis[key]
  assert.ok(original, 'a fetch has been made, so the global dispatcher exists')
  globalThis[key] = new Proxy(original, {
    get(target, prop) {
      if (prop === 'dispatch') {
        return (opts, handler) => target.dispatch(String(opts.origin) === from ? { ...opts, origin: to } : opts, handler)
      }
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return () => {
    globalThis[key] = original
  }
}

/**
 * `@clerk/testing`'s clerkSetup against the emulator: it asks the emulator's Backend API for a
 * testing token (`POST /v1/testing_tokens`) and keeps it in CLERK_TESTING_TOKEN.
 */
async function setUpClerkTesting() {
  delete process.env.CLERK_TESTING_TOKEN
  await clerkSetup({
    publishableKey: emulator.browser_publishable_key,
    secretKey: emulator.secret_key,
    apiUrl: emulator.url,
    dotenv: false,
  })
  assert.match(process.env.CLERK_TESTING_TOKEN ?? '', /-lk_/, 'clerkSetup got a testing token from the emulator')
}

before(async () => {
  emulator = await startEmulator({ extraArgs: ['--clerk-js-dir', path.join(APP, 'node_modules')] })
  // vite.config.js reads where the emulator is when Vite loads it.
  process.env.LATCHKEY_FAPI_URL = emulator.url
  await build({ root: APP, logLevel: 'warn' })
  server = await preview({ root: APP, preview: { port: 0, host: '127.0.0.1', strictPort: false }, logLevel: 'warn' })
  origin = server.resolvedUrls.local[0].replace(/\/$/, '')
  browser = await chromium.launch(chromiumOptions({ asPerson: true }))
  mkdirSync(ARTIFACTS, { recursive: true })
})

after(async () => {
  await browser?.close()
  await new Promise((resolve) => (server ? server.httpServer.close(resolve) : resolve()))
  await emulator?.stop()
})

test('signs in through @clerk/ui <SignIn /> in the built React app', async () => {
  const { email, user } = await createUser('ui')
  const { page, errors, close } = await openApp()
  try {
    // The component comes from the @clerk/ui bundle the emulator served.
    await signInThroughComponent(page, email, 'react-sign-in.png')

    await page.locator('#greeting').waitFor(WAIT)
    assert.equal(await page.locator('#greeting').textContent(), `Signed in as ${email}`)
    await page.screenshot({ path: path.join(ARTIFACTS, 'react-signed-in.png') })

    // useAuth().getToken(): a session token for this user, made for this page.
    await page.locator('#show-token').click()
    await page.locator('#claims').waitFor(WAIT)
    const shown = JSON.parse(await page.locator('#claims').textContent())
    const token = await page.evaluate(() => window.Clerk.session.getToken())
    const claims = await verifyToken(token)
    assert.equal(claims.sub, user.id)
    assert.equal(shown.sub, user.id)
    assert.equal(claims.azp, origin)

    // Signed in across a reload: the dev browser lives on in the page's storage.
    await page.reload()
    await page.locator('#greeting').waitFor(WAIT)
    assert.deepEqual(errors, [])
  } finally {
    await close()
  }
})

test('signs in through Clerk.mountSignIn on a page without React', async () => {
  const { email, user } = await createUser('mount')
  const { page, errors, close } = await openApp('/mount-sign-in.html')
  try {
    await signInThroughComponent(page, email, 'mount-sign-in.png')

    await page.locator('#signed-in').waitFor(WAIT)
    assert.equal(await page.locator('#signed-in').textContent(), `Signed in as ${email}`)
    assert.equal(await page.evaluate(() => window.Clerk.user.id), user.id)
    assert.deepEqual(errors, [])
  } finally {
    await close()
  }
})

test('@clerk/testing signs in with a password, a sign-in token and an email address', async () => {
  await setUpClerkTesting()

  const { email, user } = await createUser('testing')
  const { page, errors, close } = await openApp()
  try {
    await clerk.signIn({ page, signInParams: { strategy: 'password', identifier: email, password: PASSWORD } })
    await page.locator('#greeting').waitFor(WAIT)
    assert.equal(await page.evaluate(() => window.Clerk.user.id), user.id)
    await clerk.signOut({ page })
    await page.locator('input[name="identifier"]').waitFor(WAIT)

    // The sign-in-token form: a ticket from the Backend API, redeemed by clerk-js.
    const ticket = await bapi('POST', '/v1/sign_in_tokens', { user_id: user.id, expires_in_seconds: 300 })
    await clerk.signIn({ page, signInParams: { strategy: 'ticket', ticket: ticket.token } })
    await page.locator('#greeting').waitFor(WAIT)
    assert.equal(await page.evaluate(() => window.Clerk.user.id), user.id)
    await clerk.signOut({ page })
    await page.locator('input[name="identifier"]').waitFor(WAIT)

    // The emailAddress form makes its own Backend API client from CLERK_SECRET_KEY alone, with
    // no way to give it an API URL (it ignores CLERK_API_URL), so its requests for Clerk's hosted
    // Backend API are routed to the emulator's, as /etc/hosts would route them.
    process.env.CLERK_SECRET_KEY = emulator.secret_key
    const unroute = routeHost('https://api.clerk.com', emulator.url)
    try {
      await clerk.signIn({ page, emailAddress: email })
    } finally {
      unroute()
      delete process.env.CLERK_SECRET_KEY
    }
    await page.locator('#greeting').waitFor(WAIT)
    assert.equal(await page.evaluate(() => window.Clerk.user.id), user.id)
    assert.deepEqual(errors, [])
  } finally {
    await close()
  }
})

test('the testing token from clerkSetup, sent on the app\'s proxy path, gets a doubted client past bot protection', async () => {
  await setUpClerkTesting()
  await control('PATCH', '/instance', { settings: { captcha: { enabled: true } } })
  const { email, user } = await createUser('token')
  const { page, errors, fapi, close } = await openApp('/', { testingToken: process.env.CLERK_TESTING_TOKEN })
  try {
    const clientId = await page.evaluate(() => window.Clerk.client.id)
    await control('POST', '/captcha/challenges', { client_id: clientId })
    await clerk.signIn({ page, signInParams: { strategy: 'password', identifier: email, password: PASSWORD } })
    await page.locator('#greeting').waitFor(WAIT)
    assert.equal(await page.evaluate(() => window.Clerk.user.id), user.id)
    assert.deepEqual(fapi.filter((f) => !f.startsWith('200 ')), [], 'never asked for a CAPTCHA')
    assert.deepEqual(errors, [])
  } finally {
    await control('PATCH', '/instance', { settings: { captcha: { enabled: false } } })
    await close()
  }
})

test('a client bot protection doubts solves the CAPTCHA in @clerk/ui\'s modal and signs in', async () => {
  // The smart widget with Cloudflare's "asks the person" test key.
  await control('PATCH', '/instance', { settings: { captcha: { enabled: true, widget_type: 'smart', site_key: '3x00000000000000000000FF' } } })
  const { email, user } = await createUser('captcha')
  const { page, errors, fapi, close } = await openApp()
  try {
    const clientId = await page.evaluate(() => window.Clerk.client.id)
    await control('POST', '/captcha/challenges', { client_id: clientId })
    const identifier = page.locator('input[name="identifier"]')
    await identifier.waitFor(WAIT)
    await identifier.fill(email)
    await page.locator('.cl-formButtonPrimary').click()

    // The sign-in is answered requires_captcha; clerk-js opens its modal with the widget.
    const box = page.locator('#cl-modal-captcha-container [data-testid="latchkey-captcha"] input')
    await box.waitFor(WAIT)
    await page.screenshot({ path: path.join(ARTIFACTS, 'react-captcha-modal.png') })
    await box.click()

    // Solved: clerk-js sends the sign-in again, and it goes on to the password.
    const password = page.locator('input[name="password"]')
    await password.waitFor(WAIT)
    await password.fill(PASSWORD)
    await page.locator('.cl-formButtonPrimary').click()
    await page.locator('#greeting').waitFor(WAIT)
    assert.equal(await page.evaluate(() => window.Clerk.user.id), user.id)
    const asked = fapi.findIndex((f) => f.startsWith('401 POST /v1/client/sign_ins'))
    const solved = fapi.findIndex((f) => f.startsWith('200 POST /v1/client/verify'))
    assert.ok(asked >= 0, `refused with requires_captcha first: ${fapi.join(' | ')}`)
    assert.ok(solved > asked, `then solved: ${fapi.join(' | ')}`)
    assert.deepEqual(errors, [])
  } finally {
    await control('PATCH', '/instance', { settings: { captcha: { enabled: false, site_key: '1x00000000000000000000AA' } } })
    await close()
  }
})

test('nothing but provider icons was asked of another host', () => {
  // The pages ran offline: clerk-js, @clerk/ui, the app and the CAPTCHA widget all came from
  // here. Only the provider icons the environment names (Clerk's image CDN) were asked for.
  const others = outside.filter((r) => !/^image https:\/\/img\.clerk\.com\//.test(r))
  assert.deepEqual(others, [])
  assert.ok(outside.length > 0, 'the route saw the icon requests, so it was in place')
})
