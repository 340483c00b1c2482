//! # tauri-plugin-latchkey
//!
//! Sign-up, sign-in and sessions for a Tauri app, through the [`latchkey`] client SDK. The
//! session (the rotating client token) lives in the OS keychain and never reaches the webview;
//! the webview asks for short-lived session tokens (`getToken`) to call its backend, and is told
//! of every sign-in and sign-out by the [`AUTH_STATE_EVENT`] event.
//!
//! ```
//! fn app() -> tauri::Builder<tauri::Wry> {
//!     tauri::Builder::default().plugin(
//!         tauri_plugin_latchkey::Builder::new()
//!             .frontend_api_url("http://127.0.0.1:4100") // or .publishable_key("pk_test_…")
//!             .build(),
//!     )
//! }
//! # let _ = app;
//! ```
//!
//! The Frontend API can also come from `tauri.conf.json`
//! (`"plugins": { "latchkey": { "frontendApiUrl": "…" } }`, or `"publishableKey"`); the keychain
//! entries are named by the app's `identifier` unless `appId` says otherwise. The builder's
//! values win over the file's.
//!
//! Permissions deny by default: grant `latchkey:default` (sign-in, sign-up, sessions, sign-out,
//! session tokens) or finer sets (`latchkey:sign-in`, `latchkey:sign-up`, `latchkey:sessions`,
//! `latchkey:tokens`, `latchkey:template-tokens`, `latchkey:auth-state`) in a capability. Each
//! command also has its own `latchkey:allow-<command>`.
//!
//! From Rust, [`LatchkeyExt::latchkey`] gives the same operations and the SDK itself.

#![deny(missing_docs)]

use serde::Deserialize;
use tauri::plugin::{Builder as PluginBuilder, TauriPlugin};
use tauri::{Manager, Runtime};

mod commands;
mod desktop;
mod error;
mod models;

pub use desktop::Latchkey;
pub use error::{Error, Result};
pub use models::{
    AuthStateView, NextStep, OAuthStartView, OAuthView, SessionView, SignInView, SignUpFields,
    SignUpView, TokenView, AUTH_STATE_EVENT,
};

/// The plugin's section of `tauri.conf.json` (`plugins.latchkey`), all optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Names the keychain entries (default: the app's `identifier`).
    pub app_id: Option<String>,
    /// The Frontend API URL (an emulator's `http://127.0.0.1:4100`).
    pub frontend_api_url: Option<String>,
    /// The instance's publishable key; the Frontend API URL comes from it.
    pub publishable_key: Option<String>,
}

type Configure = Box<dyn FnOnce(latchkey::Builder) -> latchkey::Builder + Send>;

/// Sets the plugin up; [`Builder::build`] gives the plugin to hand to `tauri::Builder::plugin`.
#[derive(Default)]
pub struct Builder {
    app_id: Option<String>,
    frontend_api_url: Option<String>,
    publishable_key: Option<String>,
    configure: Option<Configure>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("app_id", &self.app_id)
            .field("frontend_api_url", &self.frontend_api_url)
            .field("publishable_key", &self.publishable_key)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder with nothing set: the Frontend API then comes from `tauri.conf.json`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the keychain entries (default: the app's `identifier`).
    pub fn app_id(mut self, id: impl Into<String>) -> Self {
        self.app_id = Some(id.into());
        self
    }

    /// The Frontend API to talk to, e.g. an emulator's `http://127.0.0.1:4100`.
    pub fn frontend_api_url(mut self, url: impl Into<String>) -> Self {
        self.frontend_api_url = Some(url.into());
        self
    }

    /// The instance's publishable key (`pk_test_…`, `pk_live_…`).
    pub fn publishable_key(mut self, key: impl Into<String>) -> Self {
        self.publishable_key = Some(key.into());
        self
    }

    /// Anything else the SDK's [`latchkey::Builder`] can set (a store, timeouts, retries), applied
    /// after the Frontend API.
    pub fn configure(
        mut self,
        f: impl FnOnce(latchkey::Builder) -> latchkey::Builder + Send + 'static,
    ) -> Self {
        self.configure = Some(Box::new(f));
        self
    }

    fn sdk(self, config: Option<&Config>, identifier: &str) -> Result<latchkey::Latchkey> {
        let config = config.cloned().unwrap_or_default();
        let app_id = self
            .app_id
            .or(config.app_id)
            .unwrap_or_else(|| identifier.to_owned());
        let mut b = latchkey::Latchkey::builder(app_id);
        b = match (
            self.frontend_api_url.or(config.frontend_api_url),
            self.publishable_key.or(config.publishable_key),
        ) {
            (Some(url), _) => b.frontend_api_url(&url),
            (None, Some(key)) => b.publishable_key(&key),
            (None, None) => {
                return Err(Error::NotConfigured(
                    "give a Frontend API URL or a publishable key (Builder or plugins.latchkey in tauri.conf.json)"
                        .into(),
                ))
            }
        };
        if let Some(f) = self.configure {
            b = f(b);
        }
        // The SDK starts its background task on the runtime it is built in: Tauri's.
        let _runtime = tauri::async_runtime::handle().inner().enter();
        Ok(b.build()?)
    }

    /// The plugin, for `tauri::Builder::plugin`. Its setup builds the SDK (reading the
    /// keychain in the background) and fails the app's start when no Frontend API is given.
    pub fn build<R: Runtime>(self) -> TauriPlugin<R, Option<Config>> {
        PluginBuilder::<R, Option<Config>>::new("latchkey")
            .invoke_handler(tauri::generate_handler![
                commands::get_auth_state,
                commands::sign_in_with_password,
                commands::sign_in_with_email_code,
                commands::sign_in_with_phone_code,
                commands::attempt_sign_in_code,
                commands::prepare_second_factor,
                commands::attempt_second_factor,
                commands::sign_in_with_email_link,
                commands::complete_email_link,
                commands::sign_in_with_email_link_elsewhere,
                commands::wait_for_email_link,
                commands::sign_in_with_oauth,
                commands::sign_up_with_oauth,
                commands::start_oauth,
                commands::complete_oauth,
                commands::sign_in_with_id_token,
                commands::start_password_reset,
                commands::reset_password,
                commands::sign_up,
                commands::prepare_sign_up_verification,
                commands::attempt_sign_up_verification,
                commands::list_sessions,
                commands::set_active_session,
                commands::sign_out,
                commands::sign_out_session,
                commands::sign_out_all,
                commands::get_token,
                commands::get_template_token,
            ])
            .setup(move |app, api| {
                let identifier = app.config().identifier.clone();
                let sdk = self.sdk(api.config().as_ref(), &identifier)?;
                desktop::forward_auth_state(app.clone(), &sdk);
                app.manage(Latchkey::new(sdk));
                Ok(())
            })
            .build()
    }
}

/// The plugin with its configuration from `tauri.conf.json` alone.
pub fn init<R: Runtime>() -> TauriPlugin<R, Option<Config>> {
    Builder::new().build()
}

/// `app.latchkey()` on an `App`, `AppHandle`, `Window` or `Webview`.
pub trait LatchkeyExt<R: Runtime> {
    /// The app's Latchkey state (the plugin must be registered).
    fn latchkey(&self) -> &Latchkey;
}

impl<R: Runtime, T: Manager<R>> LatchkeyExt<R> for T {
    fn latchkey(&self) -> &Latchkey {
        self.state::<Latchkey>().inner()
    }
}
