//! The emulator's harness on the test kit (`latchkey-testkit`: the in-process emulator, control
//! and inbox calls): a native Frontend API client that keeps its client token like the SDKs do,
//! and Backend API callers. Every Frontend and Backend API response is validated against Clerk's
//! published OpenAPI schema for its operation.

use std::ops::Deref;
use std::sync::OnceLock;

use latchkey_emulator::Emulator;
use latchkey_testkit::Kit;
pub use latchkey_testkit::{builder, urlencode, Resp};
use openapi_check::Spec;
use reqwest::Method;
use serde_json::{json, Value};

static FAPI: OnceLock<Spec> = OnceLock::new();
static BAPI: OnceLock<Spec> = OnceLock::new();

fn spec_path(name: &str) -> String {
    format!(
        "{}/../../shared/clerk-openapi/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

pub fn fapi_spec() -> &'static Spec {
    FAPI.get_or_init(|| Spec::load(spec_path("fapi-2026-05-12.yml")).expect("FAPI spec loads"))
}

pub fn bapi_spec() -> &'static Spec {
    BAPI.get_or_init(|| Spec::load(spec_path("bapi-2026-05-12.yml")).expect("BAPI spec loads"))
}

/// The kit's emulator (`emu`, `http`, `control`, `latest_code`, `wait_idle`, `advance`,
/// `set_settings`), with validated Frontend and Backend API calls.
pub struct Harness {
    pub kit: Kit,
}

impl Deref for Harness {
    type Target = Kit;

    fn deref(&self) -> &Kit {
        &self.kit
    }
}

/// An in-memory emulator with the kit's shared signing key; tests that need distinct keys start
/// with [`start_with_own_key`].
pub async fn start() -> Harness {
    start_from(builder()).await
}

pub async fn start_with_own_key() -> Harness {
    start_from(Emulator::builder().ephemeral()).await
}

pub async fn start_from(b: latchkey_emulator::EmulatorBuilder) -> Harness {
    Harness {
        kit: latchkey_testkit::start_from(b).await,
    }
}

/// Validates a response body against the spec: the operation's own schema, or ClerkErrors for an
/// error status the spec does not list for that operation.
#[track_caller]
pub fn validate(spec: &Spec, method: &str, path: &str, status: u16, body: &Value) {
    let path_only = path.split('?').next().unwrap_or(path);
    // Off the spec (iOS and Android call the first, clerk-js the second; clerk-wire-2.md §2.2,
    // §6): only their errors are Clerk's envelope to check; email_links.rs and browser.rs
    // assert their answers field by field.
    if path_only == "/v1/client/magic_links/complete" || path_only == "/v1/client/verify" {
        if status >= 400 {
            let errs = spec.check_value(
                &spec.document()["components"]["schemas"]["ClerkErrors"],
                body,
            );
            assert!(
                errs.is_empty(),
                "{method} {path_only} {status}: {}",
                errs.join("\n")
            );
        }
        return;
    }
    let clerk_errors = || {
        spec.check_value(
            &spec.document()["components"]["schemas"]["ClerkErrors"],
            body,
        )
    };
    // `paginated=true` lists are `{data, total_count}` (clerk-wire.md); the spec shows the bare array.
    // The emulator reads the flag case-insensitively (`True` from Python clients), and so does this.
    let paginated = path
        .split_once('?')
        .map(|(_, q)| {
            q.split('&')
                .any(|kv| kv.eq_ignore_ascii_case("paginated=true") || kv == "paginated=1")
        })
        .unwrap_or(false);
    if paginated && status == 200 {
        assert!(
            body["total_count"].is_i64(),
            "paginated list without total_count: {body}"
        );
        return validate(spec, method, path_only, status, &body["data"]);
    }
    let declared = spec.find_path(method, path_only).map(str::to_owned);
    if let (Some(p), true) = (&declared, status >= 400) {
        // Some operations declare an error status without a body; Clerk sends the envelope.
        if matches!(spec.response_schema(method, p, status), Ok(None)) {
            let errs = clerk_errors();
            assert!(
                errs.is_empty(),
                "{method} {path_only} {status}: {}",
                errs.join("\n")
            );
            return;
        }
    }
    let errs = match spec.check_response_for_url(method, path_only, status, body) {
        Ok(errs) => errs,
        Err(openapi_check::Error::UnknownStatus { .. }) if status >= 400 => clerk_errors(),
        Err(e) => panic!("{method} {path_only} {status}: cannot validate: {e}"),
    };
    assert!(
        errs.is_empty(),
        "{method} {path_only} {status} does not match the spec:\n{}\nbody: {body}",
        errs.join("\n")
    );
}

async fn send(
    h: &Harness,
    method: Method,
    path: &str,
    auth: Option<&str>,
    form: Option<&[(&str, &str)]>,
    json_body: Option<&Value>,
    extra: &[(&str, &str)],
) -> Resp {
    let mut req = h.request(method, path);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    if let Some(f) = form {
        req = req.form(f);
    }
    if let Some(j) = json_body {
        req = req.json(j);
    }
    latchkey_testkit::send(req).await
}

impl Harness {
    pub fn fapi(&self) -> Native<'_> {
        Native {
            h: self,
            token: None,
            origin: None,
        }
    }

    /// A Backend API call with the secret key.
    pub async fn bapi(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let auth = format!("Bearer {}", self.emu.secret_key());
        let r = send(
            self,
            method.clone(),
            path,
            Some(&auth),
            None,
            body.as_ref(),
            &[],
        )
        .await;
        validate(bapi_spec(), method.as_str(), path, r.status, &r.body);
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/json"),
            "BAPI content type"
        );
        r
    }

    /// A Backend API call with any (or no) Authorization header, not validated.
    pub async fn bapi_raw(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        send(self, method, path, auth, None, body.as_ref(), &[]).await
    }

    /// Creates a user through the Backend API; returns its JSON.
    pub async fn create_user(&self, email: &str, password: &str) -> Value {
        self.bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"email_address": [email], "password": password})),
        )
        .await
        .ok()
        .clone()
    }

    /// The JWKS of the Frontend API.
    pub async fn jwks(&self) -> Value {
        let r = self.fapi().get("/.well-known/jwks.json").await;
        r.ok().clone()
    }
}

/// A native-mode Frontend API client: sends `_is_native`, keeps the rotating client token.
pub struct Native<'a> {
    pub h: &'a Harness,
    pub token: Option<String>,
    pub origin: Option<String>,
}

impl Native<'_> {
    pub async fn call(&mut self, method: Method, path: &str, form: &[(&str, &str)]) -> Resp {
        self.call_with(method.clone(), method.as_str(), path, form, &[])
            .await
    }

    /// The general call: `wire` is the method sent and `as_method` the operation the response is
    /// validated as (they differ under a `_method` override); `headers` go along.
    pub async fn call_with(
        &mut self,
        wire: Method,
        as_method: &str,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{path}{sep}_is_native=true");
        let mut extra = headers.to_vec();
        if let Some(o) = &self.origin {
            extra.push(("origin", o.as_str()));
        }
        let form = (!form.is_empty() || wire != Method::GET).then_some(form);
        let r = send(
            self.h,
            wire,
            &url,
            self.token.as_deref(),
            form,
            None,
            &extra,
        )
        .await;
        validate(fapi_spec(), as_method, path, r.status, &r.body);
        // The SDK rule: absent → keep; empty → signed out; else replace.
        match r.authorization.as_deref() {
            None => {}
            Some("") | Some("Bearer") => self.token = None,
            Some(t) => self.token = Some(t.to_owned()),
        }
        r
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.call(Method::GET, path, &[]).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.call(Method::POST, path, form).await
    }

    /// Signs up with email + password and completes the emailed code; returns the session id.
    pub async fn sign_up(&mut self, email: &str, password: &str) -> String {
        let r = self
            .post(
                "/v1/client/sign_ups",
                &[("email_address", email), ("password", password)],
            )
            .await;
        let id = r.ok()["response"]["id"].as_str().expect("id").to_owned();
        self.post(
            &format!("/v1/client/sign_ups/{id}/prepare_verification"),
            &[("strategy", "email_code")],
        )
        .await
        .ok();
        let code = self.h.latest_code(email).await;
        let r = self
            .post(
                &format!("/v1/client/sign_ups/{id}/attempt_verification"),
                &[("strategy", "email_code"), ("code", &code)],
            )
            .await;
        assert_eq!(r.ok()["response"]["status"], "complete", "{}", r.body);
        r.body["response"]["created_session_id"]
            .as_str()
            .expect("session")
            .to_owned()
    }

    /// Signs in with a password; returns the session id.
    pub async fn sign_in(&mut self, identifier: &str, password: &str) -> String {
        let r = self
            .post(
                "/v1/client/sign_ins",
                &[("identifier", identifier), ("password", password)],
            )
            .await;
        assert_eq!(r.ok()["response"]["status"], "complete", "{}", r.body);
        r.body["response"]["created_session_id"]
            .as_str()
            .expect("session")
            .to_owned()
    }

    pub async fn token(&mut self, sid: &str) -> Resp {
        self.post(&format!("/v1/client/sessions/{sid}/tokens"), &[])
            .await
    }

    pub async fn jwt(&mut self, sid: &str) -> String {
        let r = self.token(sid).await;
        r.ok()["jwt"].as_str().expect("jwt").to_owned()
    }
}

/// Decodes and verifies a session token with `jsonwebtoken` against a JWKS document, ignoring
/// `exp`/`nbf` (the emulator's clock may be ahead of the system clock); returns the claims.
pub fn verify_jwt(jwks: &Value, token: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
    let header = decode_header(token)?;
    let set: JwkSet = serde_json::from_value(jwks.clone()).expect("JWKS parses");
    let kid = header.kid.clone().unwrap_or_default();
    let jwk = set
        .find(&kid)
        .ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
    let key = DecodingKey::from_jwk(jwk)?;
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    Ok(decode::<Value>(token, &key, &v)?.claims)
}

/// A browser-mode Frontend API client, as clerk-js talks to a development instance: a page
/// `Origin`, no `_is_native`, the dev browser in `__clerk_db_jwt` on every request.
pub struct Browser<'a> {
    pub h: &'a Harness,
    pub origin: String,
    /// The dev browser (`None` until [`Browser::dev_browser`] made one).
    pub db_jwt: Option<String>,
}

impl Harness {
    pub fn browser(&self, origin: &str) -> Browser<'_> {
        Browser {
            h: self,
            origin: origin.to_owned(),
            db_jwt: None,
        }
    }
}

impl Browser<'_> {
    /// `POST /v1/dev_browser`: makes the dev browser the next requests carry.
    pub async fn dev_browser(&mut self) -> Resp {
        let r = send(
            self.h,
            Method::POST,
            "/v1/dev_browser",
            None,
            None,
            None,
            &[("origin", &self.origin)],
        )
        .await;
        assert_eq!(r.status, 200, "dev_browser: {}", r.body);
        self.db_jwt = Some(r.body["id"].as_str().expect("id").to_owned());
        r
    }

    /// A call as clerk-js makes it: form body, methods other than GET and POST tunnelled as
    /// `POST ?_method=`, the dev browser in the query; validated against the spec.
    pub async fn call(&mut self, method: Method, path: &str, form: &[(&str, &str)]) -> Resp {
        let mut url = path.to_owned();
        let mut sep = if path.contains('?') { '&' } else { '?' };
        let wire = if method == Method::GET || method == Method::POST {
            method.clone()
        } else {
            url.push_str(&format!("{sep}_method={}", method.as_str()));
            sep = '&';
            Method::POST
        };
        if let Some(t) = &self.db_jwt {
            url.push_str(&format!("{sep}__clerk_db_jwt={t}"));
        }
        let form = (wire == Method::POST).then_some(form);
        let r = send(
            self.h,
            wire,
            &url,
            None,
            form,
            None,
            &[("origin", &self.origin)],
        )
        .await;
        validate(fapi_spec(), method.as_str(), path, r.status, &r.body);
        r
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.call(Method::GET, path, &[]).await
    }

    /// A `GET` as a page sends it to its own origin (clerk-js behind a relative `proxyUrl`): the
    /// dev browser in the query, no `Origin`, and `headers` (a `Referer` of the page, say).
    pub async fn get_without_origin(&mut self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let t = self.db_jwt.as_deref().expect("a dev browser first");
        let url = format!("{path}?__clerk_db_jwt={t}");
        let r = send(self.h, Method::GET, &url, None, None, None, headers).await;
        validate(fapi_spec(), "GET", path, r.status, &r.body);
        r
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.call(Method::POST, path, form).await
    }
}

/// Follows a browser's redirects (303s) from `url` through the emulator until they leave it
/// (the app's page or callback): where the browser lands.
pub async fn browse(h: &Harness, url: &str) -> url::Url {
    let mut at = url.to_owned();
    for _ in 0..5 {
        if !at.starts_with(h.url()) {
            return url::Url::parse(&at).unwrap();
        }
        let r = h.http.get(&at).send().await.unwrap();
        assert_eq!(
            r.status(),
            303,
            "{at}: {}",
            r.text().await.unwrap_or_default()
        );
        at = r.headers()["location"].to_str().unwrap().to_owned();
    }
    panic!("too many redirects, at {at}");
}

/// The factor for `strategy` among a sign-in's `supported_first_factors` (it must be offered).
pub fn first_factor<'a>(sign_in: &'a Value, strategy: &str) -> &'a Value {
    sign_in["supported_first_factors"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["strategy"] == strategy))
        .unwrap_or_else(|| panic!("{strategy} is offered: {sign_in}"))
}
