//! Latchkey Notes: a small Tauri app whose sign-up, sign-in and session come from
//! `tauri-plugin-latchkey`. The webview (plain HTML in `ui/`) signs up with an emailed code,
//! signs in, shows who is signed in, keeps a few notes per user, and calls the example API's
//! `/me` with a session token it asks the plugin for. The session stays in the OS keychain, so
//! the app is still signed in after a restart.
//!
//! [`app`] adds the plugin and the app's own commands to any `tauri::Builder` (the mock runtime's
//! in the tests); `main.rs` reads [`Settings`] from the environment and runs it.

use serde::Serialize;
use tauri::{Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

/// Where the app finds its services.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Frontend API (`LATCHKEY_FRONTEND_API_URL`, e.g. the emulator's
    /// `http://127.0.0.1:4100`); or, when unset, `LATCHKEY_PUBLISHABLE_KEY`.
    pub frontend_api_url: Option<String>,
    pub publishable_key: Option<String>,
    /// Names the keychain entries (`LATCHKEY_APP_ID`, default the app's identifier).
    pub app_id: Option<String>,
    /// The example API (`NOTES_API_URL`, default `http://127.0.0.1:3000`), whose `/me` the
    /// webview calls.
    pub api_url: String,
}

impl Settings {
    pub const DEFAULT_FRONTEND_API_URL: &'static str = "http://127.0.0.1:4100";
    pub const DEFAULT_API_URL: &'static str = "http://127.0.0.1:3000";

    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let publishable_key = var("LATCHKEY_PUBLISHABLE_KEY");
        let frontend_api_url = var("LATCHKEY_FRONTEND_API_URL").or_else(|| {
            publishable_key
                .is_none()
                .then(|| Self::DEFAULT_FRONTEND_API_URL.to_owned())
        });
        Self {
            frontend_api_url,
            publishable_key,
            app_id: var("LATCHKEY_APP_ID"),
            api_url: var("NOTES_API_URL").unwrap_or_else(|| Self::DEFAULT_API_URL.to_owned()),
        }
    }

    /// The plugin configured from these settings (the OS keychain holds the session).
    pub fn plugin_builder(&self) -> tauri_plugin_latchkey::Builder {
        let mut b = tauri_plugin_latchkey::Builder::new();
        if let Some(url) = &self.frontend_api_url {
            b = b.frontend_api_url(url.clone());
        } else if let Some(key) = &self.publishable_key {
            b = b.publishable_key(key.clone());
        }
        if let Some(id) = &self.app_id {
            b = b.app_id(id.clone());
        }
        b
    }
}

/// What the webview needs to know about the app's configuration.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub api_url: String,
}

#[tauri::command]
fn app_info(info: tauri::State<'_, AppInfo>) -> AppInfo {
    info.inner().clone()
}

/// Opens the About window, whose capability grants only `latchkey:auth-state`.
#[tauri::command]
fn open_about<R: Runtime>(app: tauri::AppHandle<R>) -> Result<(), String> {
    if let Some(w) = app.get_webview_window("about") {
        return w.set_focus().map_err(|e| e.to_string());
    }
    WebviewWindowBuilder::new(&app, "about", WebviewUrl::App("about.html".into()))
        .title("About Latchkey Notes")
        .inner_size(420.0, 260.0)
        .build()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The app on any runtime: the plugin as `latchkey` builds it, the app's commands, its info.
pub fn app<R: Runtime>(
    builder: tauri::Builder<R>,
    latchkey: tauri_plugin_latchkey::Builder,
    api_url: String,
) -> tauri::Builder<R> {
    builder
        .plugin(latchkey.build())
        .manage(AppInfo { api_url })
        .invoke_handler(tauri::generate_handler![app_info, open_about])
}

/// The app's context: `tauri.conf.json`, `capabilities/`, the `ui/` assets.
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// Runs the app on the desktop.
pub fn run() -> Result<(), tauri::Error> {
    let settings = Settings::from_env();
    app(
        tauri::Builder::default(),
        settings.plugin_builder(),
        settings.api_url.clone(),
    )
    .run(context())
}
