//! Two-step verification for the signed-in user: enrol an authenticator app (TOTP), get backup
//! codes, reserve a phone number for SMS codes. Signing in with a second factor is on
//! [`SignInAttempt`](crate::SignInAttempt).
//!
//! ```
//! use latchkey::{Latchkey, MemoryStore, SignInStatus};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = latchkey_emulator::Emulator::builder().start().await?;
//! # let lk = Latchkey::builder("com.example.notes")
//! #     .frontend_api_url(emu.url()).store(MemoryStore::new()).build()?;
//! # create_user(&emu, "jane@example.com").await?;
//! lk.sign_in_with_password("jane@example.com", "Doc-example-pass-7394").await?;
//!
//! let enrolment = lk.create_totp().await?;
//! let _qr_code = enrolment.qr_svg(); // show it, or enrolment.secret().expose() to type in
//! let code = authenticator_app(enrolment.secret().expose(), emu.clock().now_ms())?;
//! let backup = lk.verify_totp(&code).await?; // the app's current code
//! assert_eq!(backup.codes().len(), 10); // shown once: the server keeps only their digests
//!
//! // From now on a sign-in asks for a second factor; a backup code works once.
//! lk.sign_out().await?;
//! let mut attempt = lk.sign_in_with_password("jane@example.com", "Doc-example-pass-7394").await?;
//! assert_eq!(attempt.status(), SignInStatus::NeedsSecondFactor);
//! let status = attempt.attempt_backup_code(backup.codes()[0].expose()).await?;
//! assert_eq!(status, SignInStatus::Complete);
//! # Ok(()) }
//! # async fn create_user(emu: &latchkey_emulator::Emulator, email: &str)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! #     reqwest::Client::new()
//! #         .post(format!("{}/v1/users", emu.url()))
//! #         .bearer_auth(emu.secret_key())
//! #         .json(&serde_json::json!({"email_address": [email], "password": "Doc-example-pass-7394"}))
//! #         .send().await?.error_for_status()?;
//! #     Ok(())
//! # }
//! # fn authenticator_app(secret: &str, now_ms: i64) -> Result<String, Box<dyn std::error::Error>> {
//! #     // An independent RFC 6238 implementation stands in for the user's phone.
//! #     let key = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().map_err(|e| format!("{e:?}"))?;
//! #     let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, key);
//! #     Ok(totp.generate(u64::try_from(now_ms / 1000)?))
//! # }
//! ```

use std::fmt;

use serde::Deserialize;

use crate::client::Latchkey;
use crate::error::Error;
use crate::transport::{Call, segment};
use latchkey_protocol::{DeletedObject, PhoneNumber};

/// A value shown to the user once (a TOTP secret, a backup code). `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct OneTimeSecret(String);

impl OneTimeSecret {
    /// The value, to show to the user once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeSecret([redacted])")
    }
}

/// The wire's `totp` object.
#[derive(Clone, Deserialize)]
struct TotpObject {
    id: Option<String>,
    secret: Option<OneTimeSecret>,
    uri: Option<OneTimeSecret>,
    verified: bool,
    backup_codes: Option<Vec<OneTimeSecret>>,
}

/// An authenticator-app enrolment in progress: show the QR code (or the secret), then confirm
/// with a code from the app ([`Latchkey::verify_totp`]). Until then two-step verification is
/// not on.
#[derive(Clone)]
pub struct TotpEnrolment {
    id: String,
    secret: OneTimeSecret,
    uri: OneTimeSecret,
}

impl fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl TotpEnrolment {
    /// The enrolment's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The shared secret, base32, for typing into an authenticator app.
    pub fn secret(&self) -> &OneTimeSecret {
        &self.secret
    }

    /// The `otpauth://totp/…` URI an authenticator app reads from the QR code.
    pub fn uri(&self) -> &OneTimeSecret {
        &self.uri
    }

    /// The [`uri`](Self::uri) as a QR code, an SVG document (black on white, with a quiet zone).
    pub fn qr_svg(&self) -> String {
        qr_svg(self.uri.expose())
    }
}

/// The QR code of `text` as an SVG document. The text is short (an `otpauth://` URI), so it
/// always fits a QR code; should it not, the SVG says so in words instead.
pub fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><text y=\"20\">QR code unavailable: {e}</text></svg>"
        ),
    }
}

/// Backup codes, shown once: each signs in once in place of the second factor.
#[derive(Clone, Debug)]
pub struct BackupCodes {
    codes: Vec<OneTimeSecret>,
}

impl BackupCodes {
    /// The codes, each good for one sign-in: show them once and ask the user to keep them.
    pub fn codes(&self) -> &[OneTimeSecret] {
        &self.codes
    }
}

#[derive(Deserialize)]
struct BackupCodeObject {
    codes: Vec<OneTimeSecret>,
}

impl Latchkey {
    /// Starts enrolling an authenticator app (`POST /v1/me/totp`). Refused if one is enrolled.
    pub async fn create_totp(&self) -> Result<TotpEnrolment, Error> {
        let t: TotpObject = self
            .me_call(|sid| Call::post("/v1/me/totp").session(sid))
            .await?;
        match (t.id, t.secret, t.uri) {
            (Some(id), Some(secret), Some(uri)) => Ok(TotpEnrolment { id, secret, uri }),
            _ => Err(Error::InvalidState(
                "the server did not send the new TOTP's secret and URI".into(),
            )),
        }
    }

    /// Confirms the enrolment with a code from the app: two-step verification is on. Returns
    /// the backup codes to show the user now (they are not shown again).
    #[tracing::instrument(skip_all)]
    pub async fn verify_totp(&self, code: &str) -> Result<BackupCodes, Error> {
        let code = code.trim().to_owned();
        let t: TotpObject = self
            .me_call(|sid| {
                Call::post("/v1/me/totp/attempt_verification")
                    .session(sid)
                    .form("code", code.clone())
            })
            .await?;
        if !t.verified {
            return Err(Error::InvalidState(
                "the server did not verify the TOTP".into(),
            ));
        }
        Ok(BackupCodes {
            codes: t.backup_codes.unwrap_or_default(),
        })
    }

    /// Removes the authenticator app (`DELETE /v1/me/totp`).
    pub async fn delete_totp(&self) -> Result<(), Error> {
        let d: DeletedObject = self
            .me_call(|sid| Call::delete("/v1/me/totp").session(sid))
            .await?;
        deleted(&d)
    }

    /// Makes a new set of backup codes, replacing the old ones (`POST /v1/me/backup_codes`).
    pub async fn regenerate_backup_codes(&self) -> Result<BackupCodes, Error> {
        let b: BackupCodeObject = self
            .me_call(|sid| Call::post("/v1/me/backup_codes").session(sid))
            .await?;
        Ok(BackupCodes { codes: b.codes })
    }

    /// Reserves a verified phone number for SMS second-factor codes (or releases it).
    pub async fn reserve_phone_for_second_factor(
        &self,
        phone_number_id: &str,
        reserved: bool,
    ) -> Result<PhoneNumber, Error> {
        let path = format!("/v1/me/phone_numbers/{}", segment(phone_number_id));
        self.me_call(|sid| {
            Call::patch(path.clone())
                .session(sid)
                .form("reserved_for_second_factor", bool_str(reserved))
        })
        .await
    }

    /// Makes a reserved phone number the one second-factor codes go to by default.
    pub async fn make_default_second_factor(
        &self,
        phone_number_id: &str,
    ) -> Result<PhoneNumber, Error> {
        let path = format!("/v1/me/phone_numbers/{}", segment(phone_number_id));
        self.me_call(|sid| {
            Call::patch(path.clone())
                .session(sid)
                .form("default_second_factor", "true")
        })
        .await
    }
}

pub(crate) fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

pub(crate) fn deleted(d: &DeletedObject) -> Result<(), Error> {
    if d.deleted {
        Ok(())
    } else {
        Err(Error::InvalidState("the server did not delete it".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_codes_are_svg_and_secrets_stay_out_of_debug() {
        let uri =
            "otpauth://totp/Latchkey:jane%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Latchkey";
        let svg = qr_svg(uri);
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<path") || svg.contains("<rect"), "{svg}");
        let e = TotpEnrolment {
            id: "totp_1".into(),
            secret: OneTimeSecret("JBSWY3DPEHPK3PXP".into()),
            uri: OneTimeSecret(uri.into()),
        };
        let shown = format!("{e:?} {:?}", e.secret());
        assert!(!shown.contains("JBSWY3DPEHPK3PXP"), "{shown}");
        assert!(shown.contains("totp_1"));
        assert_ne!(qr_svg(uri), qr_svg("otpauth://totp/other"));
    }
}
