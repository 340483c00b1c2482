//! One Frontend API request in native mode: `_is_native=true`, the raw client token in
//! `Authorization`, `clerk-api-version`, `x-native-device-id`, form-encoded bodies, redirects
//! off. What the response's `Authorization` header says about the client token is read here
//! ([`Rotation`]); applying it, retrying and decoding are the caller's (`client.rs`).

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};

use crate::error::{Error, Message};
use crate::secret::ClientToken;

/// The Frontend API version this SDK speaks.
pub(crate) const API_VERSION: &str = latchkey_protocol::API_VERSION;

/// A Frontend API call. Its form holds passwords and codes, so `Debug` lists the form's keys
/// only.
#[derive(Clone)]
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub form: Vec<(&'static str, String)>,
    /// `_clerk_session_id`, for `/v1/me…`.
    pub session_id: Option<String>,
    /// Safe to repeat after an answer was lost (reads, token mints, deletes).
    pub idempotent: bool,
    /// A file sent as `multipart/form-data` instead of the form (profile images).
    pub upload: Option<Upload>,
}

/// One file of a `multipart/form-data` body.
#[derive(Clone)]
pub(crate) struct Upload {
    pub field: &'static str,
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Upload {
    /// The body and its `Content-Type`.
    fn encode(&self) -> (String, Vec<u8>) {
        latchkey_protocol::multipart::file_body(
            self.field,
            &self.file_name,
            &self.content_type,
            &self.bytes,
        )
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.form.iter().map(|(k, _)| *k).collect();
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("path", &self.logged_path())
            .field("form_keys", &keys)
            .field("session_id", &self.session_id)
            .field("idempotent", &self.idempotent)
            .field("upload_len", &self.upload.as_ref().map(|u| u.bytes.len()))
            .finish()
    }
}

impl Call {
    fn new(method: Method, path: impl Into<String>, idempotent: bool) -> Self {
        Self {
            method,
            path: path.into(),
            form: Vec::new(),
            session_id: None,
            idempotent,
            upload: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path, true)
    }

    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path, false)
    }

    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, path, false)
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path, true)
    }

    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Not retried once sent, even as a `GET`: it redeems something single-use.
    pub fn single_use(mut self) -> Self {
        self.idempotent = false;
        self
    }

    /// The path without its query, which may carry a single-use secret: what logs show.
    pub fn logged_path(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    pub fn form(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.form.push((key, value.into()));
        self
    }

    pub fn form_opt(self, key: &'static str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.form(key, v),
            None => self,
        }
    }

    pub fn upload(mut self, upload: Upload) -> Self {
        self.upload = Some(upload);
        self
    }

    pub fn session(mut self, id: Option<String>) -> Self {
        self.session_id = id;
        self
    }
}

/// What a response says about the client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rotation {
    /// No `Authorization` header: keep the token.
    Keep,
    /// An empty header or a bare `Bearer`: the client is gone, the device is signed out.
    Clear,
    /// Anything else: the token to store, verbatim.
    Replace(ClientToken),
}

/// The rotation rule of clerk-wire.md: absent → keep, empty or `Bearer` → clear, else replace.
pub(crate) fn rotation(headers: &HeaderMap) -> Rotation {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Rotation::Keep;
    };
    match value.to_str() {
        Ok(v) if v.trim().is_empty() || v.trim() == "Bearer" => Rotation::Clear,
        Ok(v) => Rotation::Replace(ClientToken::new(v)),
        Err(_) => {
            // Not a token any server sends; keeping what we have is the safe reading.
            tracing::warn!("ignoring a non-ASCII Authorization header in a response");
            Rotation::Keep
        }
    }
}

/// A response, read to the end. The body may carry session tokens, so `Debug` shows its length
/// only.
pub(crate) struct Reply {
    pub status: u16,
    pub rotation: Rotation,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
    /// Set by the caller once the rotation changed the stored token.
    pub rotated: bool,
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("rotation", &self.rotation)
            .field("body_len", &self.body.len())
            .field("retry_after", &self.retry_after)
            .field("rotated", &self.rotated)
            .finish()
    }
}

/// A request that failed without a response. `sent` is false when the connection was never
/// made, so repeating it cannot do anything twice.
#[derive(Debug)]
pub(crate) struct SendFailure {
    pub error: Error,
    pub sent: bool,
}

#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    base: String,
}

impl Transport {
    pub fn new(
        base: String,
        app_id: &str,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .user_agent(format!(
                "latchkey-rust/{} ({app_id})",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, base })
    }

    pub async fn send(
        &self,
        call: &Call,
        token: Option<&ClientToken>,
        device_id: &str,
    ) -> Result<Reply, SendFailure> {
        let mut query: Vec<(&str, &str)> = vec![("_is_native", "true")];
        if let Some(sid) = &call.session_id {
            query.push(("_clerk_session_id", sid));
        }
        let mut req = self
            .http
            .request(call.method.clone(), format!("{}{}", self.base, call.path))
            .query(&query)
            .header(ACCEPT, "application/json")
            .header("clerk-api-version", API_VERSION);
        if let Ok(v) = HeaderValue::from_str(device_id) {
            req = req.header("x-native-device-id", v);
        }
        if let Some(t) = token {
            match HeaderValue::from_str(t.expose()) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    req = req.header(AUTHORIZATION, v);
                }
                Err(_) => tracing::warn!("the stored client token is not a valid header value"),
            }
        }
        if let Some(upload) = &call.upload {
            let (content_type, body) = upload.encode();
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
        } else if call.method != Method::GET {
            req = req.form(&call.form);
        }
        let response = req.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let rotation = rotation(response.headers());
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response
            .bytes()
            .await
            .map_err(|e| SendFailure {
                sent: true,
                error: if e.is_timeout() {
                    Error::offline(e)
                } else {
                    Error::transport(e)
                },
            })?
            .to_vec();
        Ok(Reply {
            status,
            rotation,
            body,
            retry_after,
            rotated: false,
        })
    }
}

fn classify(e: reqwest::Error) -> SendFailure {
    if e.is_connect() {
        SendFailure {
            sent: false,
            error: Error::offline(e),
        }
    } else if e.is_timeout() || e.is_request() {
        SendFailure {
            sent: true,
            error: Error::offline(e),
        }
    } else {
        SendFailure {
            sent: true,
            error: Error::transport(e),
        }
    }
}

/// `Retry-After: <seconds>` or `Retry-After: <HTTP date>`.
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Statuses that say "try again": the server did not act on the request.
pub(crate) fn retryable_status(status: u16, idempotent: bool) -> bool {
    match status {
        408 | 425 | 429 | 503 => true,
        500..=599 => idempotent,
        _ => false,
    }
}

/// A redirect: redirects are off, and the Frontend API never sends one to a native client.
pub(crate) fn unexpected_redirect(status: u16) -> Error {
    Error::transport(Message(format!(
        "the Frontend API answered with a redirect (HTTP {status}); redirects are not followed"
    )))
}

/// Percent-encodes one path segment (ids are safe already; template names may not be).
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = v
            && let Ok(v) = HeaderValue::from_str(v)
        {
            h.insert(AUTHORIZATION, v);
        }
        h
    }

    #[test]
    fn rotation_rule() {
        assert_eq!(rotation(&headers(None)), Rotation::Keep);
        assert_eq!(rotation(&headers(Some(""))), Rotation::Clear);
        assert_eq!(rotation(&headers(Some("Bearer"))), Rotation::Clear);
        assert_eq!(
            rotation(&headers(Some("tok_abc"))),
            Rotation::Replace(ClientToken::new("tok_abc"))
        );
        // Verbatim: a `Bearer x` value is stored as sent.
        assert_eq!(
            rotation(&headers(Some("Bearer tok"))),
            Rotation::Replace(ClientToken::new("Bearer tok"))
        );
    }

    #[test]
    fn retry_after_and_statuses() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert!(retryable_status(429, false) && retryable_status(503, false));
        assert!(retryable_status(502, true) && !retryable_status(502, false));
        assert!(!retryable_status(422, true) && !retryable_status(401, true));
        assert_eq!(segment("my template/1"), "my%20template%2F1");
    }

    #[test]
    fn debug_shows_form_keys_and_body_sizes_never_values() {
        let call = Call::post("/v1/client/sign_ins")
            .form("identifier", "jane@example.com")
            .form("password", "hunter2-correct-horse")
            .form("code", "424242");
        let shown = format!("{call:?} {call:#?}");
        for secret in ["hunter2-correct-horse", "424242", "jane@example.com"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        for key in ["identifier", "password", "code", "/v1/client/sign_ins"] {
            assert!(shown.contains(key), "{shown}");
        }

        let reply = Reply {
            status: 200,
            rotation: Rotation::Replace(ClientToken::new("client-token-value")),
            body: br#"{"jwt":"eyJhbGciOiJSUzI1NiJ9.secret-payload.sig"}"#.to_vec(),
            retry_after: None,
            rotated: true,
        };
        let shown = format!("{reply:?} {reply:#?}");
        for secret in ["client-token-value", "eyJhbGci", "secret-payload"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("200") && shown.contains("body_len"),
            "{shown}"
        );
    }
}
