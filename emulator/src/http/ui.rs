//! The dashboard under `/_emulator/`: home, inbox, jobs, webhook deliveries, and the live
//! message feed the inbox listens to (`/_emulator/v1/messages/stream`, server-sent events).
//!
//! Pages are static HTML with inline CSS and vanilla JS (no external assets: the emulator runs
//! offline) that render from the control API's JSON. Every piece of user data is put into the
//! DOM as text; an email's HTML body is shown only in a `sandbox=""` iframe. A Content Security
//! Policy allows exactly each page's own inline script (by hash) and same-origin requests.
//! The routes sit behind the same access check as the control API.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use futures_util::Stream;
use sha2::{Digest, Sha256};

use super::control::message_json;
use super::error::ApiError;
use super::params::Params;
use crate::app::App;
use crate::domain::DomainError;
use crate::store::records::{Message, MessageKind};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/_emulator",
            get(|| async { Redirect::permanent("/_emulator/") }),
        )
        .route("/_emulator/", get(home))
        .route("/_emulator/inbox", get(inbox))
        .route("/_emulator/jobs", get(jobs))
        .route("/_emulator/webhooks", get(webhooks))
        .route("/_emulator/v1/messages/stream", get(message_stream))
}

// ---------------------------------------------------------------------------------------------
// Pages

const STYLE: &str = include_str!("ui/style.css");
const COMMON_JS: &str = include_str!("ui/common.js");

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Home,
    Inbox,
    Jobs,
    Webhooks,
}

struct Page {
    nav: Nav,
    title: &'static str,
    body: &'static str,
    script: &'static str,
}

async fn home() -> Response {
    render(&Page {
        nav: Nav::Home,
        title: "Dashboard",
        body: include_str!("ui/home.html"),
        script: include_str!("ui/home.js"),
    })
}

async fn inbox() -> Response {
    render(&Page {
        nav: Nav::Inbox,
        title: "Inbox",
        body: include_str!("ui/inbox.html"),
        script: include_str!("ui/inbox.js"),
    })
}

async fn jobs() -> Response {
    render(&Page {
        nav: Nav::Jobs,
        title: "Jobs",
        body: include_str!("ui/jobs.html"),
        script: include_str!("ui/jobs.js"),
    })
}

async fn webhooks() -> Response {
    render(&Page {
        nav: Nav::Webhooks,
        title: "Webhook deliveries",
        body: include_str!("ui/webhooks.html"),
        script: include_str!("ui/webhooks.js"),
    })
}

/// One page: the shared frame, the page's body, and its script, which the CSP allows by hash.
fn render(page: &Page) -> Response {
    let script = page_script(page);
    let nav: String = [
        (Nav::Inbox, "/_emulator/inbox", "Inbox"),
        (Nav::Jobs, "/_emulator/jobs", "Jobs"),
        (Nav::Webhooks, "/_emulator/webhooks", "Webhooks"),
    ]
    .iter()
    .map(|(n, href, label)| {
        let current = if *n == page.nav {
            r#" aria-current="page""#
        } else {
            ""
        };
        format!(r#"<a href="{href}"{current}>{label}</a>"#)
    })
    .collect();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Latchkey emulator</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
</head>
<body>
<header class="top">
<a class="brand" href="/_emulator/">Latchkey <span>emulator</span></a>
<nav>{nav}</nav>
</header>
<main>
{body}
</main>
<script>{script}</script>
</body>
</html>
"#,
        title = page.title,
        body = page.body,
    );
    let csp = content_security_policy(&script);
    let mut res = ([(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert("content-security-policy", v);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}

/// The helpers every page shares, then the page's own code.
fn page_script(page: &Page) -> String {
    format!("\n{COMMON_JS}\n{}\n", page.script)
}

/// Only the page's own script runs; requests go to this origin only. Inline styles stay
/// allowed for the emails' HTML, which an `srcdoc` iframe renders under this same policy.
fn content_security_policy(script: &str) -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes()));
    format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; \
         img-src * data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

// ---------------------------------------------------------------------------------------------
// The live message feed

/// How many of the newest messages each look compares against what was already sent.
const STREAM_WINDOW: i64 = 200;
/// A stream ends after this long and the browser reconnects (EventSource does so by itself,
/// after the `retry` we send). Shutdown ends every stream at once (`App::stopping`).
const STREAM_LIFETIME: Duration = Duration::from_secs(300);
const KEEP_ALIVE: Duration = Duration::from_secs(5);
const RETRY: Duration = Duration::from_millis(500);
/// Every commit wakes every stream, and a look reads the window: under a burst of writes
/// (a load test with the inbox open) a stream looks at most this often.
const MIN_LOOK_INTERVAL: Duration = Duration::from_millis(50);

/// `GET /_emulator/v1/messages/stream?to=&kind=`: an `event: message` with the message's JSON
/// (as in `GET /messages`) for every message captured after the request, oldest first.
///
/// A reconnecting client should list `/messages` after it opens the stream, to fill the gap
/// (the inbox does): the stream only carries what is captured while it is open.
async fn message_stream(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let p = Params::parse(false, q.as_deref().unwrap_or("").as_bytes())?;
    let kind = match p.get("kind").filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(
            MessageKind::try_from(k)
                .map_err(|_| ApiError::param_invalid("kind", "kind must be email or sms."))?,
        ),
    };
    let to = p
        .string("to")
        .filter(|t| !t.is_empty())
        .map(|t| super::control::recipient(&t));
    // What is there now counts as sent. Read before the response starts, so a client that
    // lists `/messages` once the stream is open misses nothing.
    let current = app
        .store
        .read(|tx| tx.messages(to.as_deref(), kind, STREAM_WINDOW))
        .map_err(DomainError::from)?;
    let stopping = app.stopping.subscribe();
    let feed = Feed {
        app,
        stopping,
        to,
        kind,
        inbox: Unsent::new(current),
        hello: true,
        until: tokio::time::Instant::now() + STREAM_LIFETIME,
        looked: tokio::time::Instant::now(),
    };
    let stream = futures_util::stream::unfold(feed, Feed::next);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// One client's stream.
struct Feed {
    app: Arc<App>,
    stopping: tokio::sync::watch::Receiver<bool>,
    to: Option<String>,
    kind: Option<MessageKind>,
    inbox: Unsent,
    /// Whether the opening event (the reconnect delay) is still to be sent.
    hello: bool,
    until: tokio::time::Instant,
    /// When the inbox was last read.
    looked: tokio::time::Instant,
}

impl Feed {
    /// The next event: a pending one, else waits for a commit and looks for new messages.
    /// `None` ends the stream (lifetime over, or the store failed). When the client goes away
    /// the response body, and with it this future, is dropped.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if std::mem::take(&mut self.hello) {
            return Some((Ok(Event::default().retry(RETRY).comment("ready")), self));
        }
        let app = Arc::clone(&self.app);
        loop {
            while let Some(m) = self.inbox.pending.pop_front() {
                match Event::default()
                    .event("message")
                    .json_data(message_json(&m))
                {
                    Ok(event) => return Some((Ok(event), self)),
                    Err(e) => {
                        tracing::error!(error = %e, id = %m.id, "message stream: cannot encode")
                    }
                }
            }
            tokio::time::sleep_until(self.looked + MIN_LOOK_INTERVAL).await;
            self.looked = tokio::time::Instant::now();
            // Register interest before looking, so a commit between the look and the wait is seen.
            let committed = app.committed.notified();
            tokio::pin!(committed);
            committed.as_mut().enable();
            match app
                .store
                .read(|tx| tx.messages(self.to.as_deref(), self.kind, STREAM_WINDOW))
            {
                Ok(window) => self.inbox.absorb(window),
                Err(e) => {
                    tracing::error!(error = %e, "message stream: cannot read the inbox");
                    return None;
                }
            }
            if !self.inbox.pending.is_empty() {
                continue;
            }
            if *self.stopping.borrow() {
                return None;
            }
            tokio::select! {
                woke = tokio::time::timeout_at(self.until, committed) => {
                    if woke.is_err() {
                        return None;
                    }
                }
                _ = self.stopping.changed() => return None,
            }
        }
    }
}

/// Which messages a stream has still to send.
struct Unsent {
    /// Ids among the newest [`STREAM_WINDOW`] messages that are sent or queued (or were there
    /// when the stream opened). Messages are captured by jobs, so one created earlier can be
    /// captured later: a set, not a (created_at, id) high-water mark, tells what is new.
    seen: HashSet<String>,
    pending: VecDeque<Message>,
}

impl Unsent {
    fn new(already: Vec<Message>) -> Self {
        Self {
            seen: already.into_iter().map(|m| m.id).collect(),
            pending: VecDeque::new(),
        }
    }

    /// Queues the messages of `window` (newest first) not seen yet, oldest first.
    fn absorb(&mut self, window: Vec<Message>) {
        let mut seen = HashSet::with_capacity(window.len());
        for m in window.into_iter().rev() {
            seen.insert(m.id.clone());
            if !self.seen.contains(&m.id) {
                self.pending.push_back(m);
            }
        }
        // Forget what fell out of the window: newer messages only push it further out.
        self.seen = seen;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn msg(id: &str, created_at: i64) -> Message {
        Message {
            id: id.into(),
            kind: MessageKind::Email,
            to: "a@example.com".into(),
            subject: Some("s".into()),
            body_text: "t".into(),
            body_html: None,
            code: Some("123456".into()),
            link: None,
            template: "verification_code".into(),
            created_at,
            status: "captured".into(),
            delivered_by_clerk: true,
            delivered_via: Some("inbox".into()),
        }
    }

    fn ids(u: &Unsent) -> Vec<&str> {
        u.pending.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn new_messages_are_sent_once_oldest_first_even_when_captured_out_of_order() {
        let mut u = Unsent::new(vec![msg("m1", 2)]);
        // Newest first, as the store lists them; m2 was created before m1 but captured after.
        u.absorb(vec![msg("m3", 3), msg("m1", 2), msg("m2", 1)]);
        assert_eq!(ids(&u), ["m2", "m3"]);
        u.pending.clear();
        u.absorb(vec![msg("m4", 4), msg("m3", 3), msg("m1", 2), msg("m2", 1)]);
        assert_eq!(ids(&u), ["m4"]);
    }

    #[test]
    fn an_emptied_inbox_sends_nothing_and_forgets() {
        let mut u = Unsent::new(vec![msg("m1", 1)]);
        u.absorb(Vec::new());
        assert!(u.pending.is_empty());
        assert!(u.seen.is_empty());
        u.absorb(vec![msg("m5", 5)]);
        assert_eq!(ids(&u), ["m5"]);
    }

    #[test]
    fn csp_allows_exactly_the_page_script_by_hash() {
        // sha256 of the empty string, base64.
        let csp = content_security_policy("");
        assert!(csp.contains("script-src 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"));
        assert!(csp.contains("default-src 'none'"));
        assert!(!csp.contains("unsafe-eval"));
    }

    #[test]
    fn a_page_carries_its_policy_and_script() {
        let page = Page {
            nav: Nav::Inbox,
            title: "Inbox",
            body: include_str!("ui/inbox.html"),
            script: include_str!("ui/inbox.js"),
        };
        let res = render(&page);
        let csp = res.headers().get("content-security-policy").unwrap();
        assert_eq!(
            csp.to_str().unwrap(),
            content_security_policy(&page_script(&page))
        );
        assert_eq!(
            res.headers().get(CONTENT_TYPE).unwrap(),
            "text/html; charset=utf-8"
        );
    }
}
