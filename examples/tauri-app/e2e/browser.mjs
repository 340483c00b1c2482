#!/usr/bin/env node
// The "system browser" of deep-link.test.mjs, registered for http and https in the test's own
// XDG directories, so the app's real opener (the `open` crate, then xdg-open) starts it. A plain
// HTTP client: it follows the redirects from the page it is given (the emulator's mock provider
// answers at once with a queued identity), and when one leads to a scheme that is not http(s)
// it hands that URL to the OS, as Firefox does, through GIO (`gio open`). (Debian 12's xdg-open,
// outside a desktop session, cannot start an entry whose Exec is quoted, as
// tauri-plugin-deep-link writes it; inside GNOME it hands over to GIO too.) Each step is appended
// to $LK_E2E_BROWSER_LOG for the test to read.
import { appendFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

const log = (line) => appendFileSync(process.env.LK_E2E_BROWSER_LOG, `${line}\n`)
let url = new URL(process.argv[2])
try {
  for (let hop = 0; hop < 20; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      // The nonce in its query is a credential: only the parameters' names are logged.
      log(`deep link ${url.protocol}//${url.host}${url.pathname} ${[...url.searchParams.keys()].join(',')}`)
      const r = spawnSync('gio', ['open', url.href], { stdio: 'inherit' })
      log(`gio open exited ${r.status}`)
      process.exit(r.status ?? 1)
    }
    log(`GET ${url.origin}${url.pathname}`)
    const res = await fetch(url, { redirect: 'manual' })
    const to = res.headers.get('location')
    if (res.status < 300 || res.status > 399 || !to) {
      log(`stopped at ${res.status}`)
      process.exit(1)
    }
    url = new URL(to, url)
  }
  log('too many redirects')
  process.exit(1)
} catch (e) {
  log(`failed: ${e}`)
  process.exit(1)
}
