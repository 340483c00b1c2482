import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { ClerkProvider } from '@clerk/react'
import App from './App.jsx'

// The emulator's browser publishable key (`auth-emulator start` prints it as "Browser key"): its
// host is a development one, so clerk-js makes a dev browser, and it is never contacted, since
// every request goes through proxyUrl.
const publishableKey =
  import.meta.env.VITE_CLERK_PUBLISHABLE_KEY || 'pk_test_bGF0Y2hrZXktZW11bGF0b3IuY2xlcmsuYWNjb3VudHMuZGV2JA=='

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <ClerkProvider publishableKey={publishableKey} proxyUrl="/__clerk" telemetry={false}>
      <App />
    </ClerkProvider>
  </StrictMode>,
)
