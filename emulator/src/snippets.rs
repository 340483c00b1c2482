//! What `auth-emulator start` and `GET /_emulator/v1/instance` give to copy and paste: browser
//! mode set up the one documented way (README, "Browser mode"), for clerk-js, React and Express.
//! Each is what a test runs: `tests/ui/clerk-js.test.mjs`, `examples/react-app`,
//! `tests/interop/clerk-express.test.mjs`.

use latchkey_protocol::keys::browser_publishable_key;

/// `(name, code)` for `clerk-js`, `react` and `express`, for an emulator at `frontend_api_url`.
/// The app forwards its own `/__clerk/*` to the emulator; the secret key is named, not shown.
pub fn browser_mode(frontend_api_url: &str) -> [(&'static str, String); 3] {
    let key = browser_publishable_key();
    [
        (
            "clerk_js",
            format!(
                "<script async src=\"/__clerk/npm/@clerk/clerk-js@6/dist/clerk.browser.js\" \
                 data-clerk-publishable-key=\"{key}\" data-clerk-proxy-url=\"/__clerk\"></script>"
            ),
        ),
        (
            "react",
            format!("<ClerkProvider publishableKey=\"{key}\" proxyUrl=\"/__clerk\">"),
        ),
        (
            "express",
            format!(
                "CLERK_FAPI_URL={frontend_api_url} CLERK_SECRET_KEY=<secret key> and \
                 app.use(clerkMiddleware({{ publishableKey: \"{key}\", apiUrl: \"{frontend_api_url}\", \
                 frontendApiProxy: {{ enabled: true }} }}))"
            ),
        ),
    ]
}
