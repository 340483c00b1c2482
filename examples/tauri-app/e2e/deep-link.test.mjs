// End to end: OAuth in the real Latchkey Notes binary, back on the scheme it claims, through the
// OS's own plumbing. Run by scripts/test beside restart.test.mjs (same wrapper and binaries).
//
// The test gives the app XDG directories of its own, where a desktop entry makes browser.mjs the
// handler of http and https. "Continue with Google" calls the plugin's startOAuth with
// dev.latchkey.tauri-app://callback; the SDK opens the mock provider's page with the `open` crate
// (xdg-open, which starts browser.mjs); the emulator answers with the identity the test queued and
// redirects to the claimed scheme; browser.mjs hands that URL to GIO, which starts a second
// tauri-app from the desktop entry tauri-plugin-deep-link registered at start;
// tauri-plugin-single-instance passes the link over D-Bus to the running app, whose handler
// completes the attempt. Then: a denied authorization shows its error, and a deep link that is no
// attempt's is ignored.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorText, need, sleep, startEmulator, startWebDriver, stopAll, visible, waitFor, waitVisible } from './harness.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const APP_ID = `dev.latchkey.tauri-app.e2e-oauth.${process.pid}`
const EMAIL = `oauth-${process.pid}@example.com`
const REDIRECT = 'dev.latchkey.tauri-app://callback'

test('OAuth in the system browser, back through a claimed-scheme deep link', { timeout: 180000 }, async (t) => {
  t.after(stopAll)
  const ready = await startEmulator()
  const backend = (method, path, body) =>
    fetch(`${ready.backend_api_url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ready.secret_key}`, 'content-type': 'application/json' },
      body: body && JSON.stringify(body),
    })
  const nextAnswer = async (answer) => {
    const res = await fetch(`${ready.control_api_url}/oauth/google/next`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(answer),
    })
    assert.equal(res.status, 200, await res.text())
  }
  // A custom scheme is followed only when on the instance's allowlist.
  const listed = await backend('POST', '/v1/redirect_urls', { url: REDIRECT })
  assert.equal(listed.status, 200, await listed.text())

  // The app's desktop: its own XDG directories, with browser.mjs as the http(s) handler.
  const xdg = mkdtempSync(join(tmpdir(), 'lk-e2e-xdg-'))
  const data = join(xdg, 'data')
  const config = join(xdg, 'config')
  mkdirSync(join(data, 'applications'), { recursive: true })
  mkdirSync(config, { recursive: true })
  writeFileSync(
    join(data, 'applications', 'lk-e2e-browser.desktop'),
    `[Desktop Entry]\nType=Application\nName=e2e browser\nExec=${process.execPath} ${join(here, 'browser.mjs')} %u\n` +
      'MimeType=x-scheme-handler/http;x-scheme-handler/https;\n'
  )
  writeFileSync(
    join(config, 'mimeapps.list'),
    '[Default Applications]\nx-scheme-handler/http=lk-e2e-browser.desktop\nx-scheme-handler/https=lk-e2e-browser.desktop\n'
  )
  const browserLog = join(xdg, 'browser.log')
  writeFileSync(browserLog, '')
  const desktopEnv = { XDG_DATA_HOME: data, XDG_CONFIG_HOME: config, LK_E2E_BROWSER_LOG: browserLog }

  const wd = await startWebDriver({
    ...desktopEnv,
    LATCHKEY_FRONTEND_API_URL: ready.frontend_api_url,
    LATCHKEY_APP_ID: APP_ID,
  })
  const app = await wd.session(need('TAURI_APP_BIN'))
  await waitVisible(app, 'signed-out')

  // At start the app made itself the handler of its scheme.
  const handler = join(data, 'applications', 'tauri-app-handler.desktop')
  assert.ok(existsSync(handler), 'tauri-plugin-deep-link wrote its desktop entry')
  assert.match(readFileSync(handler, 'utf8'), /MimeType=.*x-scheme-handler\/dev\.latchkey\.tauri-app/)
  const query = spawnSync('gio', ['mime', 'x-scheme-handler/dev.latchkey.tauri-app'], {
    env: { ...process.env, ...desktopEnv },
    encoding: 'utf8',
  })
  assert.match(query.stdout, /^Default application for .*: tauri-app-handler\.desktop$/m, query.stdout)

  // Someone new: the provider's callback transfers the sign-in to a sign-up, which the SDK
  // follows; signed up and in, back in the app by the deep link.
  const identity = { email: EMAIL, first_name: 'Dee', last_name: 'Link', email_verified: true, provider_user_id: `g-${process.pid}` }
  await nextAnswer(identity)
  await app.click('#oauth-google')
  await waitVisible(app, 'signed-in')
  assert.equal(await app.text('#who'), EMAIL)
  let steps = readFileSync(browserLog, 'utf8')
  assert.match(steps, /^GET http:\/\/127\.0\.0\.1:\d+\/_emulator\/oauth\/google\/authorize$/m, steps)
  assert.match(steps, /^deep link dev\.latchkey\.tauri-app:\/\/callback lk_state,.*__clerk_error_code/m, steps)
  assert.match(steps, /^gio open exited 0$/m, steps)
  const users = await (await backend('GET', `/v1/users?email_address=${encodeURIComponent(EMAIL)}`)).json()
  assert.equal(users.length, 1)
  assert.deepEqual(
    users[0].external_accounts.map((a) => [a.provider, a.email_address]),
    [['oauth_google', EMAIL]]
  )

  // Signed out and back in through Google: this time the deep link carries the session's nonce.
  await app.click('#sign-out')
  await waitVisible(app, 'signed-out')
  writeFileSync(browserLog, '')
  await nextAnswer(identity)
  await app.click('#oauth-google')
  await waitVisible(app, 'signed-in')
  assert.equal(await app.text('#who'), EMAIL)
  steps = readFileSync(browserLog, 'utf8')
  assert.match(steps, /^deep link dev\.latchkey\.tauri-app:\/\/callback lk_state,.*rotating_token_nonce/m, steps)
  const sessions = await (await backend('GET', `/v1/sessions?user_id=${users[0].id}&status=active`)).json()
  assert.deepEqual(sessions.map((s) => s.id), [await app.text('#session-id')])

  // Denied at the provider: the app shows why and stays signed out.
  await app.click('#sign-out')
  await waitVisible(app, 'signed-out')
  await nextAnswer({ error: 'access_denied' })
  await app.click('#oauth-google')
  const shown = await waitFor('the denial', () => errorText(app))
  assert.match(shown, /oauth_access_denied/)
  assert.ok(await visible(app, 'signed-out'))

  // A link on the app's scheme that is no attempt's callback changes nothing.
  const before = readFileSync(browserLog, 'utf8')
  const forged = spawnSync('gio', ['open', `${REDIRECT}?rotating_token_nonce=forged&lk_state=forged`], {
    env: { ...process.env, ...desktopEnv },
    stdio: 'inherit',
  })
  assert.equal(forged.status, 0)
  await sleep(1500)
  assert.ok(await visible(app, 'signed-out'))
  assert.equal(await errorText(app), shown, 'the forged link raised nothing new')
  assert.equal(readFileSync(browserLog, 'utf8'), before)
  await app.quit()
})
