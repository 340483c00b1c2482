//! Validates JSON response bodies against an OpenAPI 3 document (written for Clerk's Frontend and
//! Backend API specs).
//!
//! ```no_run
//! # fn main() -> Result<(), openapi_check::Error> {
//! let spec = openapi_check::Spec::load("fapi-2026-05-12.yml")?;
//! let body = serde_json::json!({ "response": null, "client": null });
//! let errs = spec.check_response_for_url("GET", "/v1/client?_clerk_js_version=5", 200, &body)?;
//! assert!(errs.is_empty(), "{errs:#?}");
//! # Ok(()) }
//! ```
//!
//! Supported keywords: `$ref` (local, OpenAPI 3.0 semantics: siblings other than `nullable` are
//! ignored), `type` (a string or a 3.1 array), `nullable`, `enum`, `const`, `required`,
//! `properties`, `additionalProperties` (only when it is a schema; `false` only in strict mode),
//! `items`, `allOf`, `anyOf`, `oneOf` (at least one alternative must pass). Everything else
//! (`format`, `pattern`, lengths, `discriminator`, ...) is ignored.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// How many schema hops (`$ref`, `allOf`, ...) are followed at one spot of the value before giving
/// up; protects against schemas that refer to themselves without consuming any of the value.
const MAX_DEPTH: usize = 64;

static ANY: Value = Value::Bool(true);

/// Why a check could not be run at all (as opposed to the body violating the schema).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing {origin} as YAML: {source}")]
    Yaml {
        origin: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("no path template in the spec matches {0}")]
    NoMatchingPath(String),
    #[error("the spec has no operation {method} {path}")]
    UnknownOperation { method: String, path: String },
    #[error("{method} {path} declares no response for status {status} (nor a {class}XX or default one)", class = status / 100)]
    UnknownStatus {
        method: String,
        path: String,
        status: u16,
    },
    #[error(
        "{method} {path} -> {status} declares no application/json content, only: {content_types}"
    )]
    NotJson {
        method: String,
        path: String,
        status: u16,
        content_types: String,
    },
    #[error("cannot resolve $ref {0:?}")]
    BadRef(String),
}

/// A parsed OpenAPI document.
#[derive(Debug, Clone)]
pub struct Spec {
    doc: Value,
    strict_additional_properties: bool,
}

impl Spec {
    /// Reads and parses a YAML (or JSON) OpenAPI document.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_yaml::from_str(&text)
            .map(Self::from_value)
            .map_err(|source| Error::Yaml {
                origin: path.display().to_string(),
                source,
            })
    }

    /// Parses a YAML (or JSON) OpenAPI document held in memory.
    pub fn from_yaml_str(text: &str) -> Result<Self, Error> {
        serde_yaml::from_str(text)
            .map(Self::from_value)
            .map_err(|source| Error::Yaml {
                origin: "<string>".into(),
                source,
            })
    }

    /// Wraps an already parsed document.
    pub fn from_value(doc: Value) -> Self {
        Self {
            doc,
            strict_additional_properties: false,
        }
    }

    /// When on, `additionalProperties: false` is enforced too (off by default: the Clerk specs put
    /// it on many response objects that the real API extends).
    pub fn strict_additional_properties(mut self, on: bool) -> Self {
        self.strict_additional_properties = on;
        self
    }

    /// The whole document.
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// The path template (a key of `paths`) that matches a concrete path or URL. Query string,
    /// fragment, scheme and host are ignored, and a server base path (e.g. `/v1` of
    /// `https://api.clerk.com/v1`) is stripped when that is needed to match. A `{param}` matches
    /// any non-empty part of one segment. Templates that define `method` win; among those, the one
    /// with literal segments earliest wins.
    pub fn find_path(&self, method: &str, url: &str) -> Option<&str> {
        let mut path = url;
        if let Some(i) = path.find("://") {
            path = path[i + 3..].find('/').map_or("/", |j| &path[i + 3 + j..]);
        }
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let mut candidates = vec![path.to_string()];
        for server in self
            .doc
            .get("servers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let url = server.get("url").and_then(Value::as_str).unwrap_or("");
            let base = match url.find("://") {
                Some(i) => url[i + 3..].find('/').map_or("", |j| &url[i + 3 + j..]),
                None => url,
            };
            let base = base.trim_end_matches('/');
            if let Some(rest) = path
                .strip_prefix(base)
                .filter(|r| !base.is_empty() && r.starts_with('/'))
            {
                candidates.push(rest.to_string());
            }
        }
        let method = method.to_ascii_lowercase();
        let paths = self.doc.get("paths").and_then(Value::as_object)?;
        let mut best: Option<((bool, Vec<u8>), &str)> = None;
        for candidate in &candidates {
            for (template, item) in paths {
                let Some(score) = match_template(template, candidate) else {
                    continue;
                };
                let has_method = self
                    .resolve(item)
                    .is_ok_and(|item| item.get(&method).is_some());
                let key = (has_method, score);
                if best.as_ref().is_none_or(|(b, _)| key > *b) {
                    best = Some((key, template));
                }
            }
        }
        best.map(|(_, template)| template)
    }

    /// The schema of the `application/json` body of a response; `Ok(None)` if the response
    /// declares no content at all. The status falls back to `2XX`-style keys, then `default`.
    pub fn response_schema(
        &self,
        method: &str,
        path: &str,
        status: u16,
    ) -> Result<Option<&Value>, Error> {
        let unknown_op = || Error::UnknownOperation {
            method: method.to_string(),
            path: path.to_string(),
        };
        let item = self
            .doc
            .get("paths")
            .and_then(|p| p.get(path))
            .ok_or_else(unknown_op)?;
        let op = self
            .resolve(item)?
            .get(method.to_ascii_lowercase())
            .ok_or_else(unknown_op)?;
        let responses = op.get("responses").and_then(Value::as_object);
        let class = format!("{}XX", status / 100);
        let response = responses
            .and_then(|r| {
                r.get(&status.to_string())
                    .or_else(|| {
                        r.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(&class))
                            .map(|(_, v)| v)
                    })
                    .or_else(|| r.get("default"))
            })
            .ok_or_else(|| Error::UnknownStatus {
                method: method.to_string(),
                path: path.to_string(),
                status,
            })?;
        let content = match self
            .resolve(response)?
            .get("content")
            .and_then(Value::as_object)
        {
            Some(content) if !content.is_empty() => content,
            _ => return Ok(None),
        };
        let json = content.iter().find(|(ct, _)| {
            let ct = ct.split(';').next().unwrap_or("").trim();
            ct == "application/json" || ct.ends_with("+json")
        });
        let Some((_, media)) = json else {
            let content_types = content.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(Error::NotJson {
                method: method.to_string(),
                path: path.to_string(),
                status,
                content_types,
            });
        };
        Ok(Some(self.resolve(media)?.get("schema").unwrap_or(&ANY)))
    }

    /// Checks `body` against the response declared for `method path status`, where `path` is a
    /// template exactly as written in the spec. Returns the violations (empty = valid). A response
    /// without declared content only accepts a `null` body.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<Vec<String>, Error> {
        match self.response_schema(method, path, status)? {
            Some(schema) => Ok(self.check_value(schema, body)),
            None if body.is_null() => Ok(Vec::new()),
            None => Ok(vec![format!(
                "/: {method} {path} -> {status} declares no body, but got {}",
                describe(body)
            )]),
        }
    }

    /// Like [`Spec::check_response`], but for a concrete path or URL (see [`Spec::find_path`]).
    pub fn check_response_for_url(
        &self,
        method: &str,
        url: &str,
        status: u16,
        body: &Value,
    ) -> Result<Vec<String>, Error> {
        let path = self
            .find_path(method, url)
            .ok_or_else(|| Error::NoMatchingPath(url.to_string()))?;
        self.check_response(method, path, status, body)
    }

    /// Checks a value against a schema (which may be a `$ref` into this document).
    pub fn check_value(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        self.validate(schema, value, "", 0, &mut errs);
        errs
    }

    /// Follows `$ref`s (of responses, media types, path items) until a non-reference object.
    fn resolve<'a>(&'a self, mut v: &'a Value) -> Result<&'a Value, Error> {
        for _ in 0..MAX_DEPTH {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => v = self.pointer(r)?,
                None => return Ok(v),
            }
        }
        Err(Error::BadRef("reference chain too long".into()))
    }

    fn pointer(&self, r: &str) -> Result<&Value, Error> {
        r.strip_prefix('#')
            .and_then(|p| self.doc.pointer(p))
            .ok_or_else(|| Error::BadRef(r.to_string()))
    }

    fn validate(
        &self,
        schema: &Value,
        value: &Value,
        ptr: &str,
        depth: usize,
        errs: &mut Vec<String>,
    ) {
        let at = if ptr.is_empty() { "/" } else { ptr };
        if depth > MAX_DEPTH {
            errs.push(format!(
                "{at}: schema nesting exceeds {MAX_DEPTH} levels (recursive schema?)"
            ));
            return;
        }
        let s = match schema {
            Value::Object(s) => s,
            Value::Bool(false) => return errs.push(format!("{at}: no value is allowed here")),
            _ => return,
        };
        if value.is_null() && s.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            match self.pointer(r) {
                Ok(target) => self.validate(target, value, ptr, depth + 1, errs),
                Err(_) => errs.push(format!("{at}: cannot resolve $ref {r:?}")),
            }
            return;
        }
        let types: Vec<&str> = match s.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
            return errs.push(format!(
                "{at}: expected {}, got {}",
                types.join(" or "),
                describe(value)
            ));
        }
        if let Some(Value::Array(allowed)) = s.get("enum") {
            if !allowed.contains(value) {
                errs.push(format!(
                    "{at}: {} is not one of {}",
                    describe(value),
                    Value::Array(allowed.clone())
                ));
            }
        }
        if let Some(c) = s.get("const") {
            if c != value {
                errs.push(format!(
                    "{at}: expected the constant {c}, got {}",
                    describe(value)
                ));
            }
        }
        match value {
            Value::Object(map) => {
                for name in s
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(name) = name.as_str().filter(|n| !map.contains_key(*n)) {
                        errs.push(format!("{at}: missing required property {name:?}"));
                    }
                }
                let props = s.get("properties").and_then(Value::as_object);
                for (key, v) in map {
                    let child = format!("{ptr}/{}", key.replace('~', "~0").replace('/', "~1"));
                    match (
                        props.and_then(|p| p.get(key)),
                        s.get("additionalProperties"),
                    ) {
                        (Some(sub), _) => self.validate(sub, v, &child, 0, errs),
                        (None, Some(sub @ Value::Object(_))) => {
                            self.validate(sub, v, &child, 0, errs)
                        }
                        (None, Some(Value::Bool(false))) if self.strict_additional_properties => {
                            errs.push(format!("{at}: unexpected property {key:?}"))
                        }
                        _ => {}
                    }
                }
            }
            Value::Array(list) => {
                if let Some(items) = s.get("items") {
                    for (i, v) in list.iter().enumerate() {
                        self.validate(items, v, &format!("{ptr}/{i}"), 0, errs);
                    }
                }
            }
            _ => {}
        }
        for sub in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.validate(sub, value, ptr, depth + 1, errs);
        }
        for keyword in ["anyOf", "oneOf"] {
            let Some(alternatives) = s.get(keyword).and_then(Value::as_array) else {
                continue;
            };
            // The closest alternative has the fewest errors, except that one of the wrong type
            // (e.g. `string` for an object value) is only chosen when all are.
            let wrong_type = format!("{at}: expected ");
            let mut best: Option<((bool, usize), usize, Vec<String>)> = None;
            for (i, sub) in alternatives.iter().enumerate() {
                let mut e = Vec::new();
                self.validate(sub, value, ptr, depth + 1, &mut e);
                if e.is_empty() {
                    best = None;
                    break;
                }
                let score = (e.len() == 1 && e[0].starts_with(&wrong_type), e.len());
                if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
                    best = Some((score, i, e));
                }
            }
            if let Some((_, i, e)) = best {
                let name = alternatives[i]
                    .get("$ref")
                    .and_then(Value::as_str)
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                errs.push(format!(
                    "{at}: matches none of the {} {keyword} alternatives; closest is #{i}{name}, which fails with:",
                    alternatives.len()
                ));
                errs.extend(e);
            }
        }
    }
}

/// Scores how literally `template` matches `path` (one entry per segment: 2 literal, 1 template
/// with literal parts such as `{id}.xml`, 0 bare `{param}`), or `None` if it does not match.
fn match_template(template: &str, path: &str) -> Option<Vec<u8>> {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    if t.len() != p.len() {
        return None;
    }
    t.iter()
        .zip(&p)
        .map(|(t, p)| {
            if t == p {
                Some(2)
            } else if t.contains('{') && segment_matches(t, p) {
                Some(u8::from(!(t.starts_with('{') && t.ends_with('}'))))
            } else {
                None
            }
        })
        .collect()
}

/// Whether one path segment matches a template segment; each `{param}` takes one or more chars.
fn segment_matches(template: &str, segment: &str) -> bool {
    let Some(open) = template.find('{') else {
        return template == segment;
    };
    let Some(rest) = segment.strip_prefix(&template[..open]) else {
        return false;
    };
    let Some(close) = template[open..].find('}') else {
        return false;
    };
    let after = &template[open + close + 1..];
    (1..=rest.len())
        .filter(|&n| rest.is_char_boundary(n))
        .any(|n| segment_matches(after, &rest[n..]))
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => true,
    }
}

/// A short description of a value for messages, e.g. `string "abc"` or `object`.
fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => return "null".into(),
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => return "array".into(),
        Value::Object(_) => return "object".into(),
    };
    let mut text = v.to_string();
    if text.chars().count() > 60 {
        text = text.chars().take(57).collect::<String>() + "...";
    }
    format!("{kind} {text}")
}

#[cfg(test)]
mod tests;
