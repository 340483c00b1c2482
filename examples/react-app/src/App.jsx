import { useState } from 'react'
import { Show, SignIn, UserButton, useAuth, useUser } from '@clerk/react'

function Account() {
  const { user } = useUser()
  const { getToken } = useAuth()
  const [claims, setClaims] = useState(null)

  // What a page does with the session: a fresh session token, as it would send to its API.
  async function showToken() {
    const token = await getToken()
    setClaims(JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))))
  }

  return (
    <section id="account">
      <header>
        <UserButton />
        <h1 id="greeting">Signed in as {user?.primaryEmailAddress?.emailAddress}</h1>
      </header>
      <button id="show-token" onClick={showToken}>
        Show my session token
      </button>
      {claims && <pre id="claims">{JSON.stringify(claims, null, 2)}</pre>}
    </section>
  )
}

export default function App() {
  return (
    <main>
      <Show when="signed-out">
        <SignIn routing="hash" />
      </Show>
      <Show when="signed-in">
        <Account />
      </Show>
    </main>
  )
}
