// The app's dev server (`vite`) and its preview of the build (`vite preview`) forward the app's
// own /__clerk/* to the emulator's Frontend API: ClerkProvider is given proxyUrl "/__clerk", a
// relative proxy URL, because clerk-js forces https on an absolute http one. clerk-js and the
// @clerk/ui bundle load through the same path, from the emulator (`--clerk-js-dir node_modules`).
import { defineConfig } from 'vite'

const emulator = process.env.LATCHKEY_FAPI_URL || 'http://127.0.0.1:4100'
const proxy = {
  '/__clerk': {
    target: emulator,
    rewrite: (path) => path.replace(/^\/__clerk/, ''),
  },
}

export default defineConfig({
  server: { proxy },
  preview: { proxy },
})
