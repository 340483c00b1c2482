//! Emails and SMS: templates and the one seam through which every message leaves.
//!
//! Today a message is captured in the inbox in the same transaction as the change that caused
//! it. Delivery through background jobs (SMTP, webhooks) plugs in at [`send`].

use super::model::{Message, MessageKind};
use serde_json::json;

use super::{events, ids, DomainError, Env};
use crate::jobs::{self, Job};
use crate::store::Tx;

/// What a message is for; picks the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    VerificationCode,
    ResetPasswordCode,
}

impl Template {
    fn name(self) -> &'static str {
        match self {
            Self::VerificationCode => "verification_code",
            Self::ResetPasswordCode => "reset_password_code",
        }
    }
}

/// `+clerk_test` email sub-addresses receive nothing and verify with `424242`.
pub fn is_test_email(email: &str) -> bool {
    email
        .split_once('@')
        .is_some_and(|(local, _)| local.ends_with("+clerk_test") || local.contains("+clerk_test+"))
}

/// `+1 (XXX) 555-0100` … `0199` receive nothing and verify with `424242`.
pub fn is_test_phone(e164: &str) -> bool {
    let digits = e164.strip_prefix("+1").unwrap_or("");
    digits.len() == 10 && digits.chars().all(|c| c.is_ascii_digit()) && &digits[3..8] == "55501"
}

pub const TEST_CODE: &str = "424242";

/// Renders a code message for `to` and hands it to delivery.
pub fn send_code(
    tx: &Tx<'_>,
    env: &Env<'_>,
    kind: MessageKind,
    to: &str,
    template: Template,
    code: &str,
) -> Result<(), DomainError> {
    let app = &env.settings.application_name;
    let minutes = env.settings.code_lifetime_secs / 60;
    let (subject, text, html) = match (kind, template) {
        (MessageKind::Email, Template::VerificationCode) => (
            Some(format!("{code} is your {app} verification code")),
            format!("{code} is your verification code for {app}.\n\nIt expires in {minutes} minutes. If you did not request it, ignore this email.\n"),
            Some(code_html(app, "Verification code", code, minutes)),
        ),
        (MessageKind::Email, Template::ResetPasswordCode) => (
            Some(format!("{code} is your {app} password reset code")),
            format!("{code} is your code to reset your {app} password.\n\nIt expires in {minutes} minutes. If you did not request it, ignore this email.\n"),
            Some(code_html(app, "Password reset code", code, minutes)),
        ),
        (MessageKind::Sms, Template::VerificationCode) => {
            (None, format!("{code} is your verification code for {app}."), None)
        }
        (MessageKind::Sms, Template::ResetPasswordCode) => {
            (None, format!("{code} is your password reset code for {app}."), None)
        }
    };
    send(
        tx,
        env,
        Message {
            id: ids::new_id(match kind {
                MessageKind::Email => "ema",
                MessageKind::Sms => "sms",
            }),
            kind,
            to: to.to_owned(),
            subject,
            body_text: text,
            body_html: html,
            code: Some(code.to_owned()),
            link: None,
            template: template.name().to_owned(),
            created_at: env.now,
            status: "queued".into(),
            delivered_by_clerk: env.settings.delivered_by_clerk,
            delivered_via: None,
        },
    )
}

/// The seam: every message leaves through here. It is written with its cause; its delivery
/// job captures it (and sends it over SMTP when configured), and the `email.created` /
/// `sms.created` event carries it to the app's webhooks.
pub fn send(tx: &Tx<'_>, env: &Env<'_>, message: Message) -> Result<(), DomainError> {
    tx.insert_message(&message)?;
    jobs::enqueue(
        tx,
        env,
        &Job::DeliverMessage {
            message_id: message.id.clone(),
        },
        env.now,
    )?;
    let status = if message.delivered_by_clerk {
        "queued"
    } else {
        "delivered_by_app"
    };
    let otp = json!({"otp_code": message.code, "app": {"name": env.settings.application_name}});
    let data = match message.kind {
        MessageKind::Email => json!({
            "object": "email",
            "id": message.id,
            "slug": message.template,
            "from_email_name": "no-reply",
            "reply_to_email_name": null,
            "to_email_address": message.to,
            "email_address_id": null,
            "user_id": null,
            "subject": message.subject,
            "body": message.body_html,
            "body_plain": message.body_text,
            "status": status,
            "data": otp,
            "delivered_by_clerk": message.delivered_by_clerk,
        }),
        MessageKind::Sms => json!({
            "object": "sms_message",
            "id": message.id,
            "slug": message.template,
            "from_phone_number": "+15555550100",
            "to_phone_number": message.to,
            "phone_number_id": null,
            "user_id": null,
            "message": message.body_text,
            "status": status,
            "data": otp,
            "delivered_by_clerk": message.delivered_by_clerk,
            "created_at_ms": message.created_at,
        }),
    };
    let event = match message.kind {
        MessageKind::Email => "email.created",
        MessageKind::Sms => "sms.created",
    };
    events::emit(tx, env, event, data)
}

fn code_html(app: &str, title: &str, code: &str, minutes: i64) -> String {
    let app = html_escape(app);
    format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h1>{app}</h1><p>{title}:</p>\
         <p style=\"font-size:28px;letter-spacing:4px\"><strong>{code}</strong></p>\
         <p>It expires in {minutes} minutes. If you did not request it, ignore this email.</p></body></html>"
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_identifiers() {
        assert!(is_test_email("jane+clerk_test@example.com"));
        assert!(!is_test_email("jane@example.com"));
        assert!(!is_test_email("clerk_test@example.com"));
        assert!(is_test_phone("+12015550100"));
        assert!(is_test_phone("+12015550199"));
        assert!(!is_test_phone("+12015550200"));
        assert!(!is_test_phone("+442015550100"));
    }
}
