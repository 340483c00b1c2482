// Latchkey Notes' one screen: signed out (sign in, or create an account), the emailed code, the
// wait for the browser (OAuth), and signed in (who, the API's /me, notes). Everything auth-related goes through the plugin; the
// page never sees the client token, only session tokens it asks for to call the API.
import * as latchkey from './vendor/latchkey.js'

const $ = (id) => document.getElementById(id)
const sections = ['loading', 'signed-out', 'code-step', 'oauth-wait', 'signed-in']
let pending = null // { kind: 'signUp' | 'signIn' | 'oauth', id }
let user = null
let info = null // { apiUrl, oauthRedirectUrl }

function show(id) {
  for (const s of sections) $(s).hidden = s !== id
}

function showError(e) {
  const el = $('error')
  if (!e) {
    el.hidden = true
    el.textContent = ''
    return
  }
  el.textContent = latchkey.isLatchkeyError(e)
    ? `${e.errors[0]?.longMessage ?? e.message}${e.code ? ` (${e.code})` : ''}`
    : String(e)
  el.hidden = false
}

async function run(fn) {
  showError(null)
  try {
    await fn()
  } catch (e) {
    showError(e)
  }
}

function primaryEmail(u) {
  const e = u.email_addresses.find((a) => a.id === u.primary_email_address_id) ?? u.email_addresses[0]
  return e ? e.email_address : u.id
}

function render(state) {
  if (state.status === 'loading') return show('loading')
  if (state.status === 'signedOut') {
    user = null
    $('me-result').hidden = true
    return show(pending?.kind === 'oauth' ? 'oauth-wait' : pending ? 'code-step' : 'signed-out')
  }
  pending = null
  user = state.user
  $('who').textContent = primaryEmail(state.user)
  $('session-id').textContent = state.session.id
  renderNotes()
  show('signed-in')
}

function askForCode(kind, id, to) {
  pending = { kind, id }
  $('code').value = ''
  $('code-hint').textContent = `We sent a code to ${to}.`
  show('code-step')
  $('code').focus()
}

$('sign-in-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  run(async () => {
    const r = await latchkey.signInWithPassword($('sign-in-email').value, $('sign-in-password').value)
    if (r.status === 'needs_second_factor') throw new Error('This account needs a second factor, which this example does not ask for.')
  })
})

$('sign-in-code').addEventListener('click', () =>
  run(async () => {
    const email = $('sign-in-email').value
    const r = await latchkey.signInWithEmailCode(email)
    askForCode('signIn', r.id, email)
  })
)

$('sign-up-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  run(async () => {
    const email = $('sign-up-email').value
    let s = await latchkey.signUp({ emailAddress: email, password: $('sign-up-password').value })
    if (s.nextStep.kind === 'verifyEmail' && !s.nextStep.codeSent) {
      s = await latchkey.prepareSignUpVerification(s.id, 'email_code')
    }
    if (s.nextStep.kind !== 'verifyEmail') throw new Error(`Unexpected sign-up step: ${s.nextStep.kind}`)
    askForCode('signUp', s.id, email)
  })
})

$('code-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  run(async () => {
    const code = $('code').value
    if (pending?.kind === 'signUp') await latchkey.attemptSignUpVerification(pending.id, 'email_code', code)
    else if (pending?.kind === 'signIn') await latchkey.attemptSignInCode(pending.id, code)
    // The auth-state event shows the signed-in screen.
  })
})

$('code-cancel').addEventListener('click', () => {
  pending = null
  show('signed-out')
})

// OAuth in the system browser, back on the scheme the app claims: the Rust side completes it from
// the deep link (src/lib.rs), and the auth-state event shows the signed-in screen; a failure
// arrives as the `oauth-failed` event.
// The attempt is pending before startOAuth resolves: the browser may be back (a denial, as
// `oauth-failed`) before it does, and that answer must find the attempt waiting.
$('oauth-google').addEventListener('click', () =>
  run(async () => {
    const attempt = { kind: 'oauth', id: null }
    pending = attempt
    show('oauth-wait')
    try {
      attempt.id = (await latchkey.startOAuth('google', info.oauthRedirectUrl)).id
    } catch (e) {
      if (pending === attempt) {
        pending = null
        show('signed-out')
      }
      throw e
    }
  })
)
$('oauth-cancel').addEventListener('click', () => {
  pending = null
  show('signed-out')
})

$('sign-out').addEventListener('click', () => run(() => latchkey.signOut()))

$('me-call').addEventListener('click', () =>
  run(async () => {
    const { jwt } = await latchkey.getToken()
    const res = await fetch(`${info.apiUrl}/me`, { headers: { Authorization: `Bearer ${jwt}` } })
    const body = await res.json()
    if (!res.ok) throw new Error(`The API answered ${res.status}: ${JSON.stringify(body)}`)
    const out = $('me-result')
    out.textContent = `The API says you are ${primaryEmail(body)} (${body.id}).`
    out.hidden = false
  })
)

$('about').addEventListener('click', () => run(() => window.__TAURI__.core.invoke('open_about')))

// Notes: kept in this webview's storage, one list per user.
const notesKey = () => `notes:${user.id}`
function loadNotes() {
  try {
    return JSON.parse(localStorage.getItem(notesKey()) ?? '[]')
  } catch {
    return []
  }
}
function renderNotes() {
  const ul = $('notes')
  ul.replaceChildren(
    ...loadNotes().map((n) => {
      const li = document.createElement('li')
      li.textContent = n
      return li
    })
  )
}
$('note-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const notes = loadNotes()
  notes.push($('note-text').value)
  localStorage.setItem(notesKey(), JSON.stringify(notes))
  $('note-text').value = ''
  renderNotes()
})

run(async () => {
  info = await window.__TAURI__.core.invoke('app_info')
  await window.__TAURI__.event.listen('oauth-failed', ({ payload }) => {
    if (pending?.kind !== 'oauth') return
    pending = null
    show('signed-out')
    showError(payload)
  })
  await latchkey.onAuthStateChange(render)
})
