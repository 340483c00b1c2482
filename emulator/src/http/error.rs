//! One error type for every surface; one exhaustive match from domain errors to statuses and
//! Clerk error codes. A 500 says "something went wrong" with a trace id; the cause goes to the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_protocol::{ClerkError, ErrorCode, ErrorEnvelope};

use crate::domain::redirects::Refusal;
use crate::domain::DomainError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: ClerkError,
    /// A 429's `Retry-After`, in whole seconds (clerk-js and `@clerk/backend` `parseInt` it).
    pub retry_after: Option<i64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: ErrorCode,
        message: &str,
        long: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error: ClerkError::new(code, message, long),
            retry_after: None,
        }
    }

    pub fn param(mut self, name: &str) -> Self {
        self.error = self.error.param(name);
        self
    }

    pub fn bad_request(code: ErrorCode, long: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "is invalid", long)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ResourceNotFound,
            "not found",
            format!("The {what} was not found."),
        )
    }

    pub fn unauthorized(code: ErrorCode, long: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, "Unauthorized request", long)
    }

    pub fn param_missing(name: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::FormParamNil,
            "is missing",
            format!("{name} must be included."),
        )
        .param(name)
    }

    pub fn param_invalid(name: &str, long: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::FormParamFormatInvalid,
            "is invalid",
            long,
        )
        .param(name)
    }

    /// 422 `form_param_value_invalid`: well formed, but not a value the parameter takes.
    pub fn param_value_invalid(name: &str, long: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::FormParamValueInvalid,
            "is invalid",
            long,
        )
        .param(name)
    }

    /// Adds `key: value` to the error's `meta`.
    fn meta(mut self, key: &str, value: serde_json::Value) -> Self {
        self.error.meta.insert(key.to_owned(), value);
        self
    }

    fn password(code: ErrorCode, message: &str, long: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message, long).param("password")
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalClerkError,
            "Something went wrong",
            "Something went wrong on our side; the emulator log has the details for this trace id.",
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        use StatusCode as S;
        let unprocessable = S::UNPROCESSABLE_ENTITY;
        match e {
            DomainError::NotFound(what) => ApiError::not_found(what),
            DomainError::IdentifierNotFound => ApiError::new(
                unprocessable,
                ErrorCode::FormIdentifierNotFound,
                "Couldn't find your account.",
                "Couldn't find your account.",
            )
            .param("identifier"),
            DomainError::IdentifierExists { param } => ApiError::new(
                unprocessable,
                ErrorCode::FormIdentifierExists,
                "That identifier is taken. Please try another.",
                format!(
                    "That {} is taken. Please try another.",
                    param.replace('_', " ")
                ),
            )
            .param(param),
            DomainError::PasswordIncorrect => ApiError::new(
                unprocessable,
                ErrorCode::FormPasswordIncorrect,
                "Password is incorrect. Try again, or use another method.",
                "Password is incorrect. Try again, or use another method.",
            )
            .param("password"),
            DomainError::PasswordTooShort { min } => ApiError::new(
                unprocessable,
                ErrorCode::FormPasswordLengthTooShort,
                "Passwords must be at least 8 characters.",
                format!("Passwords must be at least {min} characters."),
            )
            .param("password"),
            DomainError::PasswordTooLong { max } => ApiError::password(
                ErrorCode::FormPasswordLengthTooLong,
                "Your password is too long.",
                format!("Passwords must be at most {max} characters."),
            ),
            DomainError::PasswordTooManyBytes { max } => ApiError::password(
                ErrorCode::FormPasswordSizeInBytesExceeded,
                "Your password is too long.",
                format!("Passwords can be at most {max} bytes long; shorten it or use fewer special characters."),
            ),
            DomainError::PasswordValidation { missing } => {
                let names: Vec<&str> = missing.iter().map(|c| c.describe()).collect();
                ApiError::password(
                    ErrorCode::FormPasswordValidationFailed,
                    "Your password does not meet the requirements.",
                    format!("Your password must contain {}.", names.join(", ")),
                )
            }
            DomainError::PasswordNotStrongEnough {
                warning,
                suggestions,
            } => {
                let list: Vec<serde_json::Value> = suggestions
                    .iter()
                    .map(|(code, message)| serde_json::json!({"code": code, "message": message}))
                    .collect();
                let long = match &warning {
                    Some(w) if !w.is_empty() => format!("Given password is not strong enough. {w}"),
                    _ => "Given password is not strong enough.".to_owned(),
                };
                ApiError::password(
                    ErrorCode::FormPasswordNotStrongEnough,
                    "Given password is not strong enough.",
                    long,
                )
                .meta("zxcvbn", serde_json::json!({"suggestions": list}))
            }
            DomainError::PasswordPwned => ApiError::password(
                ErrorCode::FormPasswordPwned,
                "Password has been found in an online data breach.",
                "Password has been found in an online data breach. For account safety, please use a different password.",
            ),
            DomainError::PasswordMatchesIdentifier => ApiError::password(
                ErrorCode::FormPasswordMatchesIdentifier,
                "Your password must not contain your identifier.",
                "Your password must not be or contain your email address, phone number or username.",
            ),
            DomainError::PasswordOrIdentifierIncorrect => ApiError::password(
                ErrorCode::FormPasswordOrIdentifierIncorrect,
                "Password or identifier is incorrect.",
                "Password or identifier is incorrect. Try again, or use another method.",
            ),
            DomainError::RateLimited { retry_after_secs } => {
                // The code string is [U] (clerk-wire-2 §6): clients branch on the status 429
                // and `Retry-After`, not on it.
                let mut e = ApiError::new(
                    S::TOO_MANY_REQUESTS,
                    ErrorCode::TooManyRequests,
                    "Too many requests.",
                    format!("Too many requests. Please try again in {retry_after_secs} seconds."),
                );
                e.retry_after = Some(retry_after_secs);
                e
            }
            DomainError::NewPasswordMatchesCurrent => ApiError::new(
                unprocessable,
                ErrorCode::FormNewPasswordMatchesCurrent,
                "New password matches the current one",
                "Your new password must be different from your current password.",
            )
            .param("new_password"),
            DomainError::CodeIncorrect => ApiError::new(
                unprocessable,
                ErrorCode::FormCodeIncorrect,
                "Incorrect code",
                "Incorrect code",
            )
            .param("code"),
            DomainError::VerificationFailed => ApiError::new(
                unprocessable,
                ErrorCode::VerificationFailed,
                "Too many failed attempts",
                "Too many failed attempts. You have to try again with the same or another method.",
            )
            .param("code"),
            DomainError::VerificationExpired => ApiError::new(
                unprocessable,
                ErrorCode::VerificationExpired,
                "This verification has expired.",
                "This verification has expired. Request a new code.",
            )
            .param("code"),
            DomainError::AlreadyVerified => ApiError::new(
                S::BAD_REQUEST,
                ErrorCode::VerificationAlreadyVerified,
                "This verification has already been verified.",
                "This verification has already been verified.",
            ),
            DomainError::ParamMissing(name) => ApiError::param_missing(name),
            DomainError::ParamFormat { param, reason } => {
                ApiError::param_invalid(param, format!("{param} {reason}."))
            }
            DomainError::ParamValue { param, reason } => {
                ApiError::param_value_invalid(param, format!("{param} {reason}."))
            }
            DomainError::InvalidState(msg) => ApiError::new(
                S::BAD_REQUEST,
                ErrorCode::RequestInvalidForStatus,
                "This request is not valid now",
                msg,
            ),
            // Clerk's codes for refused redirects (see `domain/redirects.rs`); 422 is [U].
            DomainError::RedirectRefused {
                param,
                url,
                refusal,
            } => match refusal {
                Refusal::Malformed(why) => ApiError::param_invalid(
                    param,
                    format!("{param} must be an absolute URL: {why}."),
                ),
                Refusal::Scheme(_) => ApiError::new(
                    unprocessable,
                    ErrorCode::InvalidUrlScheme,
                    "Invalid URL scheme",
                    "Please provide a URL with one of the following schemes: https, http",
                )
                .param(param),
                Refusal::NotAllowed => ApiError::new(
                    unprocessable,
                    ErrorCode::ResourceMissmatch,
                    "Redirect url mismatch",
                    format!(
                        "The current redirect url passed in the sign in or sign up request does not match an authorized redirect URI for this instance. Review authorized redirect urls for your instance. {url}"
                    ),
                )
                .param(param),
            },
            // 422 with the duration in both meta keys: the wire notes' fixture uses
            // `duration_in_seconds`, the User `lockout_expires_in_seconds` [U]; sending both is
            // harmless, and a lock with no end sends both as null.
            DomainError::UserLocked { expires_in_secs } => ApiError::new(
                unprocessable,
                ErrorCode::UserLocked,
                "Account locked",
                match expires_in_secs {
                    Some(secs) => format!(
                        "Your account is locked. Please try again after {}.",
                        crate::domain::attack::describe_duration(secs)
                    ),
                    None => "Your account is locked. Please contact support for more information."
                        .to_owned(),
                },
            )
            .meta("duration_in_seconds", serde_json::json!(expires_in_secs))
            .meta("lockout_expires_in_seconds", serde_json::json!(expires_in_secs)),
            // 422 on `ticket` as for any bad form value. [U]
            DomainError::TicketInvalid => ApiError::new(
                unprocessable,
                ErrorCode::TicketInvalid,
                "Invalid ticket",
                "This ticket is not valid: it was revoked, already used, or never issued.",
            )
            .param("ticket"),
            // 400: the client holds a stale or foreign approval, not a malformed form. [U]
            DomainError::LinkApproval(code) => {
                ApiError::new(
                    S::BAD_REQUEST,
                    code,
                    "This email link approval cannot be used",
                    format!("The approval cannot be redeemed ({code})."),
                )
            }
            // 422 for a transfer with nothing to transfer (the sign-in form's own error), 400 for
            // a stale or forged callback or nonce. [U]
            DomainError::OAuth(code) => {
                let (message, long) = crate::domain::oauth::error_messages(code);
                ApiError::new(
                    if matches!(
                        code,
                        ErrorCode::ExternalAccountNotFound | ErrorCode::ExternalAccountExists
                    ) {
                        unprocessable
                    } else {
                        S::BAD_REQUEST
                    },
                    code,
                    message,
                    long,
                )
            }
            DomainError::TicketExpired => ApiError::new(
                unprocessable,
                ErrorCode::TicketExpired,
                "Ticket expired",
                "This ticket has expired. Ask for a new one.",
            )
            .param("ticket"),
            DomainError::UserBanned => ApiError::new(
                S::FORBIDDEN,
                ErrorCode::UserBanned,
                "Your account is banned.",
                "This account has been banned and cannot sign in.",
            ),
            DomainError::SessionExists => ApiError::new(
                S::BAD_REQUEST,
                ErrorCode::SessionExists,
                "You're already signed in.",
                "You're already signed in. Sign out before signing in again.",
            ),
            DomainError::AlreadySignedIn => ApiError::new(
                S::BAD_REQUEST,
                ErrorCode::IdentifierAlreadySignedIn,
                "You're already signed in.",
                "This identifier is already signed in on this client.",
            ),
            DomainError::SignUpRestricted => ApiError::new(
                S::FORBIDDEN,
                ErrorCode::SignUpModeRestricted,
                "Sign-ups are restricted.",
                "This instance does not allow sign-ups.",
            ),
            DomainError::Captcha(ErrorCode::CaptchaNotEnabled) => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::CaptchaNotEnabled,
                "CAPTCHA is not enabled",
                "Bot protection is off on this instance (settings: captcha.enabled), so there is no challenge to solve.",
            ),
            DomainError::RequiresCaptcha => ApiError::new(
                S::UNAUTHORIZED,
                ErrorCode::RequiresCaptcha,
                "Security verification required",
                "Bot protection asks this client to solve a CAPTCHA challenge: send the widget's token to POST /v1/client/verify (captcha_token), then try again.",
            ),
            DomainError::Captcha(code) => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                code,
                if code == ErrorCode::CaptchaMissingToken {
                    "Missing CAPTCHA token"
                } else {
                    "CAPTCHA verification failed"
                },
                if code == ErrorCode::CaptchaMissingToken {
                    "Bot protection is on: a sign-up from a browser needs a captcha_token from the CAPTCHA widget."
                } else {
                    "The CAPTCHA token is not valid: it was not issued by this instance's widget, was used already or expired, or the widget failed. Please try again."
                },
            )
            .param("captcha_token"),
            DomainError::DevBrowserUnknown => ApiError::unauthorized(
                ErrorCode::DevBrowserUnauthenticated,
                "This browser request has no dev browser, or one this instance does not know: create one with POST /v1/dev_browser and send it as __clerk_db_jwt.",
            ),
            DomainError::SignedOut => ApiError::unauthorized(
                ErrorCode::SignedOut,
                "You are signed out. Sign in to continue.",
            ),
            DomainError::SessionInactive => ApiError::unauthorized(
                ErrorCode::AuthenticationInvalid,
                "The session is no longer active: it ended, was revoked or expired.",
            ),
            DomainError::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                ApiError::internal()
            }
            DomainError::Keys(e) => {
                tracing::error!(error = %e, "key failure");
                ApiError::internal()
            }
            DomainError::Internal(e) => {
                tracing::error!(error = %e, "internal failure");
                ApiError::internal()
            }
            DomainError::PasswordWork(work) => {
                tracing::error!(?work, "password work was asked for where nothing does it");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let trace = crate::domain::ids::random_base62(16);
        if self.status.is_server_error() {
            tracing::error!(trace_id = %trace, code = %self.error.code, "request failed");
        }
        let body = ErrorEnvelope {
            errors: vec![self.error],
            clerk_trace_id: Some(trace),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.max(1).into());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_errors_map_to_clerk_codes() {
        let cases: Vec<(DomainError, u16, &str)> = vec![
            (DomainError::NotFound("user"), 404, "resource_not_found"),
            (
                DomainError::IdentifierNotFound,
                422,
                "form_identifier_not_found",
            ),
            (
                DomainError::IdentifierExists {
                    param: "email_address",
                },
                422,
                "form_identifier_exists",
            ),
            (
                DomainError::PasswordIncorrect,
                422,
                "form_password_incorrect",
            ),
            (
                DomainError::PasswordTooShort { min: 8 },
                422,
                "form_password_length_too_short",
            ),
            (
                DomainError::NewPasswordMatchesCurrent,
                422,
                "form_new_password_matches_current",
            ),
            (DomainError::CodeIncorrect, 422, "form_code_incorrect"),
            (DomainError::VerificationFailed, 422, "verification_failed"),
            (
                DomainError::VerificationExpired,
                422,
                "verification_expired",
            ),
            (
                DomainError::AlreadyVerified,
                400,
                "verification_already_verified",
            ),
            (DomainError::ParamMissing("x"), 422, "form_param_nil"),
            (
                DomainError::ParamValue {
                    param: "strategy",
                    reason: "is not supported".into(),
                },
                422,
                "form_param_value_invalid",
            ),
            (
                DomainError::UserLocked {
                    expires_in_secs: Some(3600),
                },
                422,
                "user_locked",
            ),
            (DomainError::PasswordPwned, 422, "form_password_pwned"),
            (
                DomainError::PasswordTooManyBytes { max: 72 },
                422,
                "form_password_size_in_bytes_exceeded",
            ),
            (
                DomainError::PasswordValidation {
                    missing: vec![crate::domain::passwords::CharClass::Number],
                },
                422,
                "form_password_validation_failed",
            ),
            (
                DomainError::PasswordOrIdentifierIncorrect,
                422,
                "form_password_or_identifier_incorrect",
            ),
            (
                DomainError::RateLimited {
                    retry_after_secs: 7,
                },
                429,
                "too_many_requests",
            ),
            (DomainError::UserBanned, 403, "user_banned"),
            (DomainError::SessionExists, 400, "session_exists"),
            (
                DomainError::AlreadySignedIn,
                400,
                "identifier_already_signed_in",
            ),
            (
                DomainError::SignUpRestricted,
                403,
                "sign_up_mode_restricted",
            ),
            (DomainError::SessionInactive, 401, "authentication_invalid"),
            (
                DomainError::Internal("secret detail".into()),
                500,
                "internal_clerk_error",
            ),
        ];
        for (e, status, code) in cases {
            let api = ApiError::from(e);
            assert_eq!(api.status.as_u16(), status, "{code}");
            assert_eq!(api.error.code, code);
            assert!(!api.error.long_message.contains("secret detail"));
        }
    }

    #[test]
    fn a_lockout_names_its_duration_and_a_rate_limit_its_retry() {
        let locked = ApiError::from(DomainError::UserLocked {
            expires_in_secs: Some(3600),
        });
        assert_eq!(
            locked.error.long_message,
            "Your account is locked. Please try again after 1 hour."
        );
        assert_eq!(locked.error.meta["duration_in_seconds"], 3600);
        assert_eq!(locked.error.meta["lockout_expires_in_seconds"], 3600);
        let res = ApiError::from(DomainError::RateLimited {
            retry_after_secs: 7,
        })
        .into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[axum::http::header::RETRY_AFTER], "7");
    }
}
