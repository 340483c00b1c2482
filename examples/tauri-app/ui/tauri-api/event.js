// The one piece of @tauri-apps/api/event the plugin's guest-js uses (see core.js).
export const listen = (event, handler, options) => window.__TAURI__.event.listen(event, handler, options)
