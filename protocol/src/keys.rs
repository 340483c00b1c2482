//! Publishable keys: `pk_test_` / `pk_live_` + base64(`<frontend api host>$`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Encodes a development publishable key for a Frontend API host such as `127.0.0.1:4100`.
pub fn publishable_key_for_host(host: &str) -> String {
    format!("pk_test_{}", STANDARD.encode(format!("{host}$")))
}

/// The Frontend API host of the publishable key to give clerk-js in browser mode. It ends in a
/// development suffix (`.accounts.dev`), which is what makes clerk-js set up a dev browser; its
/// requests reach the emulator through the app's relative `proxyUrl`, never this host. The name
/// is no Clerk instance's (theirs are random words with digits).
pub const BROWSER_FRONTEND_API_HOST: &str = "latchkey-emulator.clerk.accounts.dev";

/// The publishable key for clerk-js in browser mode: [`BROWSER_FRONTEND_API_HOST`]'s.
pub fn browser_publishable_key() -> String {
    publishable_key_for_host(BROWSER_FRONTEND_API_HOST)
}

/// Decodes the Frontend API host from a publishable key, `None` when it is not one.
pub fn frontend_api_host(publishable_key: &str) -> Option<String> {
    let b64 = publishable_key
        .strip_prefix("pk_test_")
        .or_else(|| publishable_key.strip_prefix("pk_live_"))?;
    // Clerk's keys are padded base64; accept unpadded too.
    let bytes = STANDARD
        .decode(b64)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let host = text.strip_suffix('$')?;
    (!host.is_empty()).then(|| host.to_owned())
}

/// The Frontend API URL for a publishable key: `http://` for loopback hosts, `https://` otherwise.
pub fn frontend_api_url(publishable_key: &str) -> Option<String> {
    let host = frontend_api_host(publishable_key)?;
    let local = is_loopback_host(host_without_port(&host));
    Some(format!("{}://{host}", if local { "http" } else { "https" }))
}

/// `host:port` or `[v6]:port` without the port (and without the brackets).
pub fn host_without_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    }
}

/// Whether a host name (no port) names this machine: `localhost`, a `*.localhost` name (which
/// resolvers must map to loopback), or a loopback IP literal (`127.0.0.0/8`, `::1`, with or
/// without brackets). Exact, not a prefix: `localhost.example.com` and `127.example.com` are
/// other machines.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_hosts() {
        let pk = publishable_key_for_host("127.0.0.1:4100");
        assert_eq!(pk, "pk_test_MTI3LjAuMC4xOjQxMDAk");
        assert_eq!(frontend_api_host(&pk).as_deref(), Some("127.0.0.1:4100"));
        assert_eq!(
            frontend_api_url(&pk).as_deref(),
            Some("http://127.0.0.1:4100")
        );
        let live = format!("pk_live_{}", STANDARD.encode("clerk.example.com$"));
        assert_eq!(
            frontend_api_url(&live).as_deref(),
            Some("https://clerk.example.com")
        );
    }

    #[test]
    fn only_loopback_hosts_get_plain_http() {
        for (host, scheme) in [
            ("127.0.0.1:4100", "http"),
            ("127.3.4.5", "http"),
            ("localhost:3000", "http"),
            ("app.localhost:3000", "http"),
            ("[::1]:4100", "http"),
            ("localhost.example.com", "https"),
            ("localhost.evil.com:4100", "https"),
            ("localhostapp.io", "https"),
            ("127.example.com", "https"),
            ("127.0.0.1.nip.io", "https"),
            ("[::2]:4100", "https"),
            ("clerk.example.com", "https"),
        ] {
            let pk = publishable_key_for_host(host);
            assert_eq!(
                frontend_api_url(&pk),
                Some(format!("{scheme}://{host}")),
                "{host}"
            );
        }
    }

    #[test]
    fn rejects_non_keys() {
        assert_eq!(frontend_api_host("sk_test_abc"), None);
        assert_eq!(frontend_api_host("pk_test_!!!"), None);
        assert_eq!(
            frontend_api_host(&format!("pk_test_{}", STANDARD.encode("nodollar"))),
            None
        );
    }
}
