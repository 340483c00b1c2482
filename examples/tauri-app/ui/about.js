// The About window's capability grants `latchkey:auth-state` alone: it can show who is signed in,
// and nothing else (a sign-in or a token request from here is refused).
import * as latchkey from './vendor/latchkey.js'

latchkey.onAuthStateChange((s) => {
  document.getElementById('about-who').textContent =
    s.status === 'signedIn' ? `Signed in as ${s.user.email_addresses[0]?.email_address ?? s.user.id}.` : 'Nobody is signed in.'
})
