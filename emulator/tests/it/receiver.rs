//! A real HTTP server that receives webhook deliveries and answers as told, and a raw TCP
//! receiver that reads a delivery and never answers it.

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
    arrived: Arc<tokio::sync::Notify>,
    /// Answers go out only while this is true (see [`Receiver::hold`]).
    gate: Arc<tokio::sync::watch::Sender<bool>>,
    pub url: String,
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let notify = Arc::new(tokio::sync::Notify::new());
        let gate = Arc::new(tokio::sync::watch::Sender::new(true));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let state = (inner.clone(), notify.clone(), gate.clone());
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(state);
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            inner,
            arrived: notify,
            gate,
            url,
        }
    }

    /// From now on every delivery is recorded on arrival but answered only after [`release`].
    ///
    /// [`release`]: Receiver::release
    pub fn hold(&self) {
        self.gate.send_replace(false);
    }

    /// Answers the held deliveries (and every later one at once).
    pub fn release(&self) {
        self.gate.send_replace(true);
    }

    /// Waits until `n` deliveries have arrived (answered or held); panics after 30 s.
    pub async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        let wait = async {
            loop {
                let notified = self.arrived.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let got = self.got();
                if got.len() >= n {
                    return got;
                }
                notified.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| panic!("{n} deliveries did not arrive; got {}", self.got().len()))
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

type Shared = (
    Arc<Mutex<Inner>>,
    Arc<tokio::sync::Notify>,
    Arc<tokio::sync::watch::Sender<bool>>,
);

async fn receive(
    State((inner, notify, gate)): State<Shared>,
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
    let mut open = gate.subscribe();
    let _ = open.wait_for(|open| *open).await;
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    StatusCode::from_u16(status).unwrap()
}

/// What a [`Mute`] receiver does once it has read a delivery.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MuteMode {
    /// Closes the connection without a word.
    HangUp,
    /// Keeps the connection open and never answers.
    Silent,
}

/// A raw TCP webhook receiver that reads each request whole and never answers it.
pub struct Mute {
    pub url: String,
    arrived: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Mute {
    pub async fn start(mode: MuteMode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let arrived = Arc::new(tokio::sync::watch::Sender::new(0_usize));
        let count = arrived.clone();
        tokio::spawn(async move {
            let mut open = Vec::new();
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                if read_request(&mut sock).await.is_err() {
                    continue;
                }
                count.send_modify(|n| *n += 1);
                match mode {
                    MuteMode::HangUp => drop(sock),
                    MuteMode::Silent => open.push(sock),
                }
            }
        });
        Self { url, arrived }
    }

    /// How many requests have been read.
    pub fn count(&self) -> usize {
        *self.arrived.borrow()
    }

    /// Waits until `n` requests have been read; panics after 30 s.
    pub async fn wait_for(&self, n: usize) {
        let mut rx = self.arrived.subscribe();
        tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| panic!("{n} requests did not arrive"))
            .unwrap();
    }
}

/// Reads one HTTP/1.1 request with a `Content-Length` body.
async fn read_request(sock: &mut tokio::net::TcpStream) -> std::io::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + len {
            return Ok(());
        }
    }
}
