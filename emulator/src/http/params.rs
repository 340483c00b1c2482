//! Request bodies. The Frontend API takes form-encoded bodies (and JSON); the Backend API takes
//! JSON. Both extractors answer malformed input with the Clerk error envelope, never axum's
//! plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use latchkey_protocol::{AnyStrategy, ErrorCode, UnknownName};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::secret::Secret;

/// Largest request body accepted (bytes).
pub const BODY_LIMIT: usize = 256 * 1024;

pub async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::RequestBodyTooLarge,
                "Request body too large",
                format!("The request body must be at most {BODY_LIMIT} bytes."),
            )
        })
}

pub(crate) fn is_json(req: &Request) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

/// Frontend API parameters: form fields (repeated keys kept) or a JSON object's fields.
#[derive(Default)]
pub struct Params(Vec<(String, String)>);

// Parameters carry passwords and codes.
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Params {
    pub fn parse(json: bool, body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        if json {
            let value: Value = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(
                    ErrorCode::MalformedRequest,
                    format!("The JSON body could not be parsed: {e}"),
                )
            })?;
            let Value::Object(map) = value else {
                return Err(ApiError::bad_request(
                    ErrorCode::MalformedRequest,
                    "The JSON body must be an object.",
                ));
            };
            let mut out = Vec::new();
            for (k, v) in map {
                match v {
                    Value::Null => {}
                    Value::String(s) => out.push((k, s)),
                    Value::Array(items) => {
                        for item in items {
                            out.push((k.clone(), scalar(item)));
                        }
                    }
                    other => out.push((k, scalar(other))),
                }
            }
            Ok(Self(out))
        } else {
            let bad = |why: &str| {
                ApiError::bad_request(
                    ErrorCode::MalformedRequest,
                    format!("The form body could not be parsed: {why}"),
                )
            };
            // The decoder is lossy; refuse rather than guess at bytes that are not UTF-8.
            std::str::from_utf8(body).map_err(|_| bad("it is not UTF-8"))?;
            let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                .map_err(|e| bad(&e.to_string()))?;
            if pairs
                .iter()
                .any(|(k, v)| k.contains('\u{FFFD}') || v.contains('\u{FFFD}'))
            {
                return Err(bad("a percent-encoded value is not UTF-8"));
            }
            Ok(Self(pairs))
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A string parameter, `None` when absent.
    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_owned)
    }

    pub fn required(&self, key: &'static str) -> Result<String, ApiError> {
        match self.get(key) {
            Some(v) if !v.trim().is_empty() => Ok(v.to_owned()),
            _ => Err(ApiError::param_missing(key)),
        }
    }

    /// A parameter that names a value of `T` (a [`Strategy`](latchkey_protocol::Strategy)),
    /// `None` when absent or empty. A name `T` does not know is 422 `form_param_value_invalid`
    /// here, so it never reaches the domain.
    pub fn named<T: std::str::FromStr<Err = UnknownName>>(
        &self,
        key: &'static str,
    ) -> Result<Option<T>, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|e| unknown_name(key, &e)),
        }
    }

    /// [`Params::named`] for a required parameter: absent or blank is 422 `form_param_nil`.
    pub fn required_named<T: std::str::FromStr<Err = UnknownName>>(
        &self,
        key: &'static str,
    ) -> Result<T, ApiError> {
        self.required(key)?
            .parse()
            .map_err(|e| unknown_name(key, &e))
    }

    /// The `strategy` of an operation that also takes an OAuth provider's, custom ones included
    /// (`oauth_custom_<key>`): `(strategy, provider)`, the provider's strategy in the second
    /// place and a [`Strategy`](latchkey_protocol::Strategy) in the first. A custom provider's
    /// `from_oauth_custom_<key>` names no way to sign in or up: it is refused as an unsupported
    /// strategy is.
    pub fn strategy_or_provider(
        &self,
        key: &'static str,
    ) -> Result<(Option<latchkey_protocol::Strategy>, Option<AnyStrategy>), ApiError> {
        match self.named::<AnyStrategy>(key)? {
            None => Ok((None, None)),
            Some(AnyStrategy::Known(s)) => Ok((
                Some(s),
                Some(s.into()).filter(|p: &AnyStrategy| p.is_oauth()),
            )),
            Some(p @ AnyStrategy::OAuthCustom(_)) => Ok((None, Some(p))),
            Some(other) => Err(ApiError::param_value_invalid(
                key,
                format!("{key} {:?} is not supported.", other.as_str()),
            )),
        }
    }

    pub fn secret(&self, key: &str) -> Option<Secret> {
        self.get(key).map(Secret::new)
    }

    /// An integer in `min..=max`; `default` when absent or empty.
    pub fn int(
        &self,
        key: &'static str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::param_invalid(
                        key,
                        format!("{key} must be an integer from {min} to {max}."),
                    )
                }),
        }
    }

    pub fn bool(&self, key: &'static str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v == "1" || v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false") => {
                Ok(Some(false))
            }
            Some(_) => Err(ApiError::param_invalid(
                key,
                format!("{key} must be true or false."),
            )),
        }
    }

    /// A JSON object sent as a string (how forms carry `unsafe_metadata`).
    pub fn json_object(&self, key: &'static str) -> Result<Option<Map<String, Value>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                _ => Err(ApiError::param_invalid(
                    key,
                    format!("{key} must be a JSON object."),
                )),
            },
        }
    }
}

fn unknown_name(key: &'static str, e: &UnknownName) -> ApiError {
    ApiError::param_value_invalid(key, format!("{key} {e}."))
}

fn scalar(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let json = is_json(&req);
        let body = read_body(req).await?;
        Params::parse(json, &body)
    }
}

/// A Backend API JSON body. An empty body reads as `{}`.
pub struct BapiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for BapiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let json = is_json(&req);
        let body = read_body(req).await?;
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else if !json {
            // A body without a Content-Type is what a cross-site `fetch(…, {mode: "no-cors"})`
            // sends: refused, like any other type that is not JSON.
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedContentType,
                "Unsupported content type",
                "This API takes application/json bodies: send Content-Type: application/json.",
            ));
        } else {
            &body
        };
        serde_json::from_slice(body).map(BapiJson).map_err(|e| {
            let msg = e.to_string();
            // serde names the offending field for type errors: pass it on as param_name.
            let param = msg
                .split('`')
                .nth(1)
                .filter(|_| msg.contains("field"))
                .unwrap_or("body")
                .to_owned();
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::FormParamFormatInvalid,
                "is invalid",
                format!("The request body is invalid: {msg}"),
            )
            .param(&param)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn form_and_json_read_alike() {
        let f = Params::parse(false, b"identifier=a%40b.co&password=pw&x=1&x=2").unwrap();
        let j = Params::parse(
            true,
            br#"{"identifier":"a@b.co","password":"pw","x":[1,2],"n":null}"#,
        )
        .unwrap();
        for p in [&f, &j] {
            assert_eq!(p.get("identifier"), Some("a@b.co"));
            assert_eq!(p.get("password"), Some("pw"));
            assert_eq!(p.get("n"), None);
        }
        assert!(Params::parse(true, b"[1]").is_err());
        assert!(Params::parse(true, b"{").is_err());
        assert!(format!("{f:?}").contains("identifier") && !format!("{f:?}").contains("pw\""));
    }

    #[test]
    fn named_params_parse_into_their_enum_or_are_422_form_param_value_invalid() {
        use latchkey_protocol::Strategy;
        let p = Params::parse(false, b"strategy=email_code&other=carrier_pigeon&empty=").unwrap();
        assert_eq!(
            p.named::<Strategy>("strategy").unwrap(),
            Some(Strategy::EmailCode)
        );
        assert_eq!(p.named::<Strategy>("empty").unwrap(), None);
        assert_eq!(p.named::<Strategy>("absent").unwrap(), None);
        let e = p.named::<Strategy>("other").unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.error.code, ErrorCode::FormParamValueInvalid);
        assert_eq!(e.error.param_name(), Some("other"));
        let e = p.required_named::<Strategy>("empty").unwrap_err();
        assert_eq!(e.error.code, ErrorCode::FormParamNil);
    }

    #[test]
    fn json_object_params() {
        let p = Params::parse(false, b"unsafe_metadata=%7B%22a%22%3A1%7D&bad=%5B1%5D").unwrap();
        assert_eq!(p.json_object("unsafe_metadata").unwrap().unwrap()["a"], 1);
        assert!(p.json_object("bad").is_err());
    }
}
