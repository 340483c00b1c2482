//! `/npm/@clerk/<package>@<version>/<file>`: clerk-js and `@clerk/ui` served from a local
//! folder (`--clerk-js-dir`), at the paths `ClerkProvider` and `@clerk/shared`'s script loader
//! ask a Frontend API (or an app's relative `proxyUrl`) for, so browser mode needs no network.
//! The whole package is served: clerk-js loads its lazy chunks relative to its own script.
//!
//! The folder is a `node_modules` holding `@clerk/clerk-js` (and `@clerk/ui`), or a folder
//! with such a `node_modules` (an app's own). `<version>` is matched against the installed
//! package's `version`: a major (`6`), a major.minor, an exact version, or `latest`. Only files
//! inside the package folder are served; a path that climbs out, or names a hidden file, is 404.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use latchkey_protocol::ErrorCode;

use super::error::ApiError;
use crate::app::App;

/// The packages served (clerk-js, and the UI bundle clerk-js 6 loads beside it).
const PACKAGES: &[&str] = &["clerk-js", "ui"];

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/npm/@clerk/{package}/{*file}", get(serve))
}

fn missing(why: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::ResourceNotFound,
        "not found",
        why,
    )
}

async fn serve(
    State(app): State<Arc<App>>,
    UrlPath((package, file)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    let Some(dir) = &app.clerk_js_dir else {
        return Err(missing(
            "This emulator serves no clerk-js: start it with --clerk-js-dir <node_modules with @clerk/clerk-js>.",
        ));
    };
    let (name, wanted) = package
        .split_once('@')
        .unwrap_or((package.as_str(), "latest"));
    if !PACKAGES.contains(&name) {
        return Err(missing(format!(
            "Only @clerk/{} are served here.",
            PACKAGES.join(" and @clerk/")
        )));
    }
    let root = package_dir(dir, name).ok_or_else(|| {
        missing(format!(
            "@clerk/{name} is not installed in {} (npm install @clerk/{name} there).",
            dir.display()
        ))
    })?;
    let installed = installed_version(&root).await.unwrap_or_default();
    if !version_matches(wanted, &installed) {
        return Err(missing(format!(
            "@clerk/{name}@{wanted} was asked for; {} holds {installed}.",
            dir.display()
        )));
    }
    let Some(rel) = safe_relative(&file) else {
        return Err(missing("No such file in the package."));
    };
    let path = root.join(rel);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| missing("No such file in the package."))?;
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    // Public files, fetched by script tags and by chunk loaders with `crossorigin`.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(res)
}

/// `<dir>/@clerk/<name>` or `<dir>/node_modules/@clerk/<name>`, whichever has a `package.json`.
fn package_dir(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join("@clerk"), dir.join("node_modules").join("@clerk")]
        .into_iter()
        .map(|d| d.join(name))
        .find(|d| d.join("package.json").is_file())
}

async fn installed_version(root: &Path) -> Option<String> {
    let text = tokio::fs::read_to_string(root.join("package.json"))
        .await
        .ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_owned)
}

/// `6` matches 6.x.y, `6.40` matches 6.40.y, `6.40.0` only itself, `latest` anything.
fn version_matches(wanted: &str, installed: &str) -> bool {
    if wanted == "latest" {
        return !installed.is_empty();
    }
    let mut have = installed.split(['.', '-', '+']);
    wanted.split('.').all(|part| have.next() == Some(part))
}

/// The URL's file path as a path under the package: normal components only, none hidden.
fn safe_relative(file: &str) -> Option<PathBuf> {
    let path = Path::new(file);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) if !part.to_string_lossy().starts_with('.') => out.push(part),
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("js" | "mjs" | "cjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_by_their_leading_parts() {
        assert!(version_matches("6", "6.40.0"));
        assert!(version_matches("6.40", "6.40.0"));
        assert!(version_matches("6.40.0", "6.40.0"));
        assert!(version_matches("latest", "6.40.0"));
        assert!(!version_matches("5", "6.40.0"));
        assert!(!version_matches("6.4", "6.40.0"));
        assert!(!version_matches("6", ""));
    }

    #[test]
    fn only_plain_paths_inside_the_package() {
        assert_eq!(
            safe_relative("dist/clerk.browser.js"),
            Some(PathBuf::from("dist/clerk.browser.js"))
        );
        assert_eq!(safe_relative("../../etc/passwd"), None);
        assert_eq!(safe_relative("dist/../../x"), None);
        assert_eq!(safe_relative("/etc/passwd"), None);
        assert_eq!(safe_relative("dist/.env"), None);
        assert_eq!(safe_relative(""), None);
    }
}
