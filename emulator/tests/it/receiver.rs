//! A real HTTP server that receives webhook deliveries and answers as told.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Delivery {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Delivery {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inner {
    got: Vec<Delivery>,
    /// Statuses to answer with, in order; then 204.
    script: VecDeque<u16>,
    always: Option<u16>,
    delay: Option<Duration>,
}

#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let notify = Arc::new(tokio::sync::Notify::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let state = (inner.clone(), notify.clone());
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(state);
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { inner, url }
    }

    /// Answers these statuses first, then 204.
    pub fn script(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().script = statuses.iter().copied().collect();
    }

    pub fn always(&self, status: u16) {
        self.inner.lock().unwrap().always = Some(status);
    }

    pub fn delay(&self, d: Duration) {
        self.inner.lock().unwrap().delay = Some(d);
    }

    pub fn got(&self) -> Vec<Delivery> {
        self.inner.lock().unwrap().got.clone()
    }

    /// The deliveries of one event type.
    pub fn of_type(&self, t: &str) -> Vec<Delivery> {
        self.got()
            .into_iter()
            .filter(|d| d.json()["type"] == t)
            .collect()
    }
}

type Shared = (Arc<Mutex<Inner>>, Arc<tokio::sync::Notify>);

async fn receive(
    State((inner, notify)): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (status, delay) = {
        let mut i = inner.lock().unwrap();
        i.got.push(Delivery { headers, body });
        let status = i.always.or_else(|| i.script.pop_front()).unwrap_or(204);
        (status, i.delay)
    };
    notify.notify_waiters();
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    StatusCode::from_u16(status).unwrap()
}
