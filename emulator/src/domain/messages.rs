//! Emails and SMS: templates and the one seam through which every message leaves.
//!
//! A message is written, already captured in the inbox, in the transaction of the change that
//! caused it, so the inbox has it the moment that request's response is sent; its delivery job
//! sends it on (SMTP) when configured — see [`send`].

use crate::store::records::{Message, MessageKind};
use serde_json::json;

use super::outbox::{self, Effect};
use super::{events, ids, DomainError, Env};
use crate::store::Tx;
use latchkey_protocol::EventType;

/// What a message is for; picks the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    VerificationCode,
    ResetPasswordCode,
    /// A sign-in link (email link / magic link).
    MagicLink,
    /// An invitation to join the application.
    Invitation,
}

impl Template {
    fn name(self) -> &'static str {
        match self {
            Self::VerificationCode => "verification_code",
            Self::ResetPasswordCode => "reset_password_code",
            Self::MagicLink => "magic_link",
            Self::Invitation => "invitation",
        }
    }
}

/// A rendered message: subject (emails), plain text, HTML (emails).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
}

/// Renders `template` for an email or an SMS. `secret` is the code, or the link for link
/// templates.
pub fn render(
    template: Template,
    kind: MessageKind,
    app: &str,
    secret: &str,
    minutes: i64,
) -> Rendered {
    let ignore = "If you did not request it, ignore this message.";
    let (subject, lead, title) = match template {
        Template::VerificationCode => (
            format!("{secret} is your {app} verification code"),
            format!("{secret} is your verification code for {app}."),
            "Verification code",
        ),
        Template::ResetPasswordCode => (
            format!("{secret} is your {app} password reset code"),
            format!("{secret} is your code to reset your {app} password."),
            "Password reset code",
        ),
        Template::MagicLink => (
            format!("Your {app} sign-in link"),
            format!("Use this link to sign in to {app}: {secret}"),
            "Sign in",
        ),
        Template::Invitation => (
            format!("You are invited to {app}"),
            format!("You have been invited to join {app}. Accept the invitation: {secret}"),
            "Invitation",
        ),
    };
    match kind {
        MessageKind::Sms => Rendered {
            subject: None,
            text: lead,
            html: None,
        },
        MessageKind::Email => {
            let expiry = if template == Template::Invitation {
                String::new()
            } else {
                format!("It expires in {minutes} minutes. ")
            };
            let app_html = html_escape(app);
            let secret_html = html_escape(secret);
            let body = match template {
                Template::VerificationCode | Template::ResetPasswordCode => format!(
                    "<p style=\"font-size:28px;letter-spacing:4px\"><strong>{secret_html}</strong></p>"
                ),
                Template::MagicLink | Template::Invitation => format!(
                    "<p><a href=\"{secret_html}\" style=\"font-size:18px\">{}</a></p>",
                    if template == Template::MagicLink { "Sign in" } else { "Accept the invitation" }
                ),
            };
            Rendered {
                subject: Some(subject),
                text: format!("{lead}\n\n{expiry}{ignore}\n"),
                html: Some(format!(
                    "<!doctype html><html><body style=\"font-family:sans-serif\"><h1>{app_html}</h1>\
                     <p>{title}:</p>{body}<p>{expiry}{ignore}</p></body></html>"
                )),
            }
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
    let minutes = env.settings.code_lifetime_secs / 60;
    let r = render(
        template,
        kind,
        &env.settings.application_name,
        code,
        minutes,
    );
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
            subject: r.subject,
            body_text: r.text,
            body_html: r.html,
            code: Some(code.to_owned()),
            link: None,
            template: template.name().to_owned(),
            created_at: env.now,
            status: "captured".into(),
            delivered_by_clerk: env.settings.delivered_by_clerk,
            delivered_via: Some("inbox".into()),
        },
    )
}

/// The seam: every message leaves through here. It is written with its cause and is in the
/// inbox once that commits; its delivery job sends it over SMTP when configured, and the
/// `email.created` / `sms.created` event carries it to the app's webhooks.
pub fn send(tx: &Tx<'_>, env: &Env<'_>, message: Message) -> Result<(), DomainError> {
    tx.insert_message(&message)?;
    outbox::record(
        tx,
        env,
        &Effect::DeliverMessage {
            message_id: message.id.clone(),
        },
        env.now,
    )?;
    let status = if message.delivered_by_clerk {
        "queued"
    } else {
        "delivered_by_app"
    };
    let mut otp = json!({"otp_code": message.code, "app": {"name": env.settings.application_name}});
    // A link message carries its link as its template variable `magic_link` [U: the name of
    // Clerk's template variable], so an app that delivers its own email can send it.
    if let Some(link) = &message.link {
        otp["magic_link"] = json!(link);
    }
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
        MessageKind::Email => EventType::EmailCreated,
        MessageKind::Sms => EventType::SmsCreated,
    };
    events::emit(tx, env, event, data)
}

/// Empties the inboxes; returns how many messages were deleted.
pub fn delete_all(tx: &Tx<'_>) -> Result<usize, DomainError> {
    Ok(tx.delete_messages()?)
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
    fn templates_carry_the_app_name_and_the_secret_and_escape_html() {
        for t in [Template::VerificationCode, Template::ResetPasswordCode] {
            let r = render(t, MessageKind::Email, "Acme <3", "123456", 10);
            assert!(r.subject.as_deref().unwrap_or("").contains("123456"));
            assert!(r.text.contains("123456") && r.text.contains("10 minutes"));
            let html = r.html.unwrap_or_default();
            assert!(
                html.contains("Acme &lt;3") && !html.contains("Acme <3") && html.contains("123456")
            );
            let sms = render(t, MessageKind::Sms, "Acme", "123456", 10);
            assert!(sms.subject.is_none() && sms.html.is_none() && sms.text.contains("123456"));
        }
        let link = "http://127.0.0.1:4100/v1/verify?token=a&b=\"x\"";
        let r = render(Template::MagicLink, MessageKind::Email, "Acme", link, 10);
        assert_eq!(r.subject.as_deref(), Some("Your Acme sign-in link"));
        assert!(r.text.contains(link));
        assert!(r
            .html
            .unwrap_or_default()
            .contains("href=\"http://127.0.0.1:4100/v1/verify?token=a&amp;b=&quot;x&quot;\""));
        let r = render(
            Template::Invitation,
            MessageKind::Email,
            "Acme",
            "http://x/accept",
            10,
        );
        assert_eq!(r.subject.as_deref(), Some("You are invited to Acme"));
        assert!(
            !r.text.contains("expires"),
            "invitations do not expire in minutes"
        );
    }

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
