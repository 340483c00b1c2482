//! Latchkey Notes: a small Tauri app whose sign-up, sign-in and session come from
//! `tauri-plugin-latchkey`. The webview (plain HTML in `ui/`) signs up with an emailed code,
//! signs in, shows who is signed in, keeps a few notes per user, and calls the example API's
//! `/me` with a session token it asks the plugin for. The session stays in the OS keychain, so
//! the app is still signed in after a restart.
//!
//! "Continue with Google" signs in through OAuth in the system browser and comes back on a
//! claimed scheme, [`OAUTH_REDIRECT_URL`] (RFC 8252 §7.1, the app's identifier as the scheme):
//! `tauri-plugin-deep-link` claims it (on Linux and Windows the app registers itself as its
//! handler at start, since a development build is not installed), `tauri-plugin-single-instance`
//! hands a deep link the OS starts a second copy of the app with to the running one, and
//! [`deep_links`] completes the attempt the link belongs to. The instance must have the URL on
//! its redirect-URL allowlist (Backend API `POST /v1/redirect_urls`).
//!
//! [`app`] adds the plugin and the app's own commands to any `tauri::Builder` (the mock runtime's
//! in the tests); `main.rs` reads [`Settings`] from the environment and runs it.

use serde::Serialize;
use tauri::{Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_latchkey::LatchkeyExt;

/// Where OAuth comes back to: a scheme this app claims (`plugins.deep-link` in
/// `tauri.conf.json`), which must be on the instance's redirect-URL allowlist.
pub const OAUTH_REDIRECT_URL: &str = "dev.latchkey.tauri-app://callback";

/// The event the webview hears when an OAuth deep link ended in a failure (the plugin's error).
pub const OAUTH_FAILED_EVENT: &str = "oauth-failed";

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
    /// [`OAUTH_REDIRECT_URL`], for the webview's `startOAuth`.
    pub oauth_redirect_url: String,
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
        .manage(AppInfo {
            api_url,
            oauth_redirect_url: OAUTH_REDIRECT_URL.to_owned(),
        })
        .invoke_handler(tauri::generate_handler![app_info, open_about])
}

/// The app's context: `tauri.conf.json`, `capabilities/`, the `ui/` assets.
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// Completes the OAuth attempt a deep link belongs to. A link that is none of theirs is ignored
/// (any app can be sent a URL on its scheme); a failure reaches the webview as
/// [`OAUTH_FAILED_EVENT`]; success shows through the plugin's auth-state event.
pub async fn complete_deep_link<R: Runtime>(app: &tauri::AppHandle<R>, url: &str) {
    match app.latchkey().complete_oauth_deep_link(url).await {
        None => eprintln!("tauri-app: a deep link that is no OAuth attempt's callback: ignored"),
        Some(Ok(_)) => {}
        Some(Err(e)) => {
            // The error as the plugin's commands reject with it (kind, code, message).
            let payload = serde_json::to_value(&e).unwrap_or_default();
            let _ = app.emit(OAUTH_FAILED_EVENT, payload);
        }
    }
}

/// Claims [`OAUTH_REDIRECT_URL`]'s scheme and completes OAuth from the deep links it brings.
fn deep_links<R: Runtime>(app: &tauri::App<R>) {
    use tauri_plugin_deep_link::DeepLinkExt;
    // Linux and Windows learn of a handler at install time; a development build registers itself
    // (on Linux a `.desktop` entry in the user's data directory, made the scheme's default).
    #[cfg(any(target_os = "linux", windows))]
    if let Err(e) = app.deep_link().register_all() {
        eprintln!("tauri-app: cannot register {OAUTH_REDIRECT_URL}'s scheme: {e}");
    }
    let handle = app.handle().clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            let handle = handle.clone();
            tauri::async_runtime::spawn(
                async move { complete_deep_link(&handle, url.as_str()).await },
            );
        }
    });
}

/// Runs the app on the desktop.
pub fn run() -> Result<(), tauri::Error> {
    let settings = Settings::from_env();
    // First: a second copy of the app (started by the OS with a deep link) hands its arguments
    // to this one, the deep link among them, and quits.
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .setup(|app| {
            deep_links(app);
            Ok(())
        });
    app(builder, settings.plugin_builder(), settings.api_url.clone()).run(context())
}
