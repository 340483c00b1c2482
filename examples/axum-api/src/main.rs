//! Serves the example API. Configuration from the environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `LATCHKEY_API_URL` | Backend API URL (default `http://127.0.0.1:4100`, the emulator) |
//! | `LATCHKEY_SECRET_KEY` | `sk_test_…` (required) |
//! | `LATCHKEY_WEBHOOK_SECRET` | `whsec_…` (required) |
//! | `LATCHKEY_PUBLISHABLE_KEY` | optional; when set, tokens must come from its Frontend API |
//! | `LATCHKEY_AUTHORIZED_PARTIES` | optional comma-separated browser origins allowed in `azp` |
//! | `BIND` | listen address (default `127.0.0.1:3000`) |
//! | `CORS_ALLOW_ORIGINS` | optional comma-separated page origins allowed to call the API from a webview or browser (e.g. `tauri://localhost`) |

use std::error::Error;

use axum_api::{allow_origins, app, AppState, Config};

fn required(name: &str) -> Result<String, Box<dyn Error>> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

fn config_from_env() -> Result<Config, Box<dyn Error>> {
    let issuer = match std::env::var("LATCHKEY_PUBLISHABLE_KEY") {
        Ok(pk) => Some(
            latchkey_protocol::keys::frontend_api_url(&pk)
                .ok_or("LATCHKEY_PUBLISHABLE_KEY is not a publishable key")?,
        ),
        Err(_) => None,
    };
    Ok(Config {
        api_url: std::env::var("LATCHKEY_API_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:4100".to_owned()),
        secret_key: required("LATCHKEY_SECRET_KEY")?.into(),
        webhook_secret: required("LATCHKEY_WEBHOOK_SECRET")?.into(),
        issuer,
        authorized_parties: std::env::var("LATCHKEY_AUTHORIZED_PARTIES")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = config_from_env()?;
    let state = AppState::new(&config)?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let origins = std::env::var("CORS_ALLOW_ORIGINS")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    axum::serve(listener, allow_origins(app(state), origins))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
