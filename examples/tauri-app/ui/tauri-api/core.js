// The one piece of @tauri-apps/api/core the plugin's guest-js uses, from the API Tauri injects
// with `app.withGlobalTauri` (this example has no bundler).
export const invoke = (cmd, args, options) => window.__TAURI__.core.invoke(cmd, args, options)
