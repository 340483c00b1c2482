//! One error type for every surface; one exhaustive match from domain errors to statuses and
//! Clerk error codes. A 500 says "something went wrong" with a trace id; the cause goes to the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_protocol::{ClerkError, ErrorCode, ErrorEnvelope};

use crate::domain::DomainError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: ClerkError,
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
            DomainError::UserLocked => ApiError::new(
                S::FORBIDDEN,
                ErrorCode::UserLocked,
                "Your account is locked.",
                "Your account is locked. Contact support.",
            ),
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
        (self.status, axum::Json(body)).into_response()
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
            (DomainError::UserLocked, 403, "user_locked"),
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
}
