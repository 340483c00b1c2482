//! Profile images: uploaded by the signed-in user (`POST /v1/me/profile_image`) or the Backend
//! API (`POST /v1/users/{id}/profile_image`), stored whole in the database, served at
//! `/v1/images/{id}`, which the user's `image_url` points to. Changes emit `user.updated`.

use super::{accounts, ids, DomainError, Env};
use crate::store::records::{ImageRecord, UserWithIdents};
use crate::store::{ReadTx, Tx};

/// The largest image accepted (bytes). Clerk documents no limit; 10 MiB holds any photo a
/// phone takes, and the route's body limit is a little above it (for the multipart framing).
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// The image type the bytes are, by their magic numbers: PNG, JPEG, GIF or WebP. The declared
/// content type (which may be `application/octet-stream`) is not trusted.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Makes `data` the user's profile image (replacing the one before) and emits `user.updated`.
/// Bytes that are no PNG, JPEG, GIF or WebP image are refused (422), as is an empty or
/// oversized file.
pub fn set(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    name: Option<&str>,
    data: Vec<u8>,
) -> Result<ImageRecord, DomainError> {
    if data.is_empty() {
        return Err(DomainError::ParamMissing("file"));
    }
    if data.len() > MAX_IMAGE_BYTES {
        return Err(DomainError::ParamValue {
            param: "file",
            reason: format!("must be at most {MAX_IMAGE_BYTES} bytes"),
        });
    }
    let content_type = sniff(&data).ok_or_else(|| DomainError::ParamFormat {
        param: "file",
        reason: "must be a PNG, JPEG, GIF or WebP image".into(),
    })?;
    let name = name
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).trim())
        .filter(|n| !n.is_empty() && n.len() <= 255)
        .unwrap_or("profile_image");
    let image = ImageRecord {
        id: ids::new_id("img"),
        user_id: u.user.id.clone(),
        name: name.to_owned(),
        content_type: content_type.to_owned(),
        data,
        created_at: env.now,
    };
    tx.save_image(&image)?;
    u.image_id = Some(image.id.clone());
    accounts::save_updated(tx, env, u)?;
    Ok(image)
}

/// Removes the user's profile image (`NotFound` when there is none) and emits `user.updated`;
/// `image_url` goes back to the default.
pub fn delete(tx: &Tx<'_>, env: &Env<'_>, u: &mut UserWithIdents) -> Result<String, DomainError> {
    let id = u.image_id.clone().ok_or(DomainError::NotFound("image"))?;
    tx.delete_image_of_user(&u.user.id)?;
    u.image_id = None;
    accounts::save_updated(tx, env, u)?;
    Ok(id)
}

/// An image to serve, or `NotFound`.
pub fn get(tx: &ReadTx<'_>, id: &str) -> Result<ImageRecord, DomainError> {
    tx.image(id)?.ok_or(DomainError::NotFound("image"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_bytes_not_their_names() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b"<svg xmlns=...>"), None);
        assert_eq!(sniff(b""), None);
    }
}
