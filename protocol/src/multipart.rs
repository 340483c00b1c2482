//! A `multipart/form-data` body with one file, as `POST /v1/me/profile_image` (Frontend API)
//! and `POST /v1/users/{id}/profile_image` (Backend API) take it. Pure encoding: the SDKs send it.

/// The body and its `Content-Type`. The boundary is one the file's bytes do not contain (tried
/// in turn, so no randomness is needed); quotes and line breaks are left out of the file name.
pub fn file_body(
    field: &str,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let boundary = (0u64..)
        .map(|n| format!("latchkey-boundary-{n:016x}"))
        .find(|b| !bytes.windows(b.len()).any(|w| w == b.as_bytes()))
        .unwrap_or_default();
    let name: String = file_name
        .chars()
        .filter(|c| !matches!(c, '"' | '\\' | '\r' | '\n'))
        .collect();
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_with_a_boundary_the_file_does_not_contain() {
        let bytes = b"\x89PNG\r\n--latchkey-boundary-0000000000000000".to_vec();
        let (ct, body) = file_body("file", "me\".png", "image/png", &bytes);
        let boundary = ct
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            boundary, "latchkey-boundary-0000000000000001",
            "the first one is in the file"
        );
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")), "{text}");
        assert!(
            text.contains("name=\"file\"; filename=\"me.png\""),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: image/png\r\n\r\n\u{fffd}PNG"),
            "{text}"
        );
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")), "{text}");
        assert_eq!(text.matches(boundary.as_str()).count(), 2);
    }
}
