//! Delivery of emails beyond the inbox: SMTP (`--smtp-url smtp://host:port`).

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::store::records::Message;

/// Plain SMTP to a relay (a local catcher, a company relay); no authentication, no TLS.
#[derive(Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    url: String,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp").field("url", &self.url).finish()
    }
}

impl Smtp {
    pub fn from_url(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| format!("{url:?} must look like smtp://host:port"))?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((h, p)) => (
                h.to_owned(),
                p.parse::<u16>()
                    .map_err(|_| format!("{p:?} is not a port number"))?,
            ),
            None => (rest.trim_end_matches('/').to_owned(), 25),
        };
        if host.is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(port)
            .timeout(Some(std::time::Duration::from_secs(15)))
            .build();
        Ok(Self {
            transport,
            url: url.to_owned(),
        })
    }

    pub async fn send(&self, app_name: &str, msg: &Message) -> Result<(), String> {
        let from: Mailbox = format!("{app_name} <no-reply@latchkey.localhost>")
            .parse()
            .or_else(|_| "no-reply@latchkey.localhost".parse())
            .map_err(|e| format!("from address: {e}"))?;
        let to: Mailbox = msg.to.parse().map_err(|e| format!("to address: {e}"))?;
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(msg.body_text.clone());
        let body = match &msg.body_html {
            Some(html) => MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
            None => MultiPart::mixed().singlepart(text),
        };
        let email = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(msg.subject.clone().unwrap_or_default())
            .message_id(Some(format!("<{}@latchkey.localhost>", msg.id)))
            .multipart(body)
            .map_err(|e| format!("building the email: {e}"))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_smtp_urls() {
        assert!(Smtp::from_url("smtp://127.0.0.1:2525").is_ok());
        assert!(Smtp::from_url("smtp://mail.internal").is_ok());
        assert!(Smtp::from_url("http://x:1").is_err());
        assert!(Smtp::from_url("smtp://x:notaport").is_err());
        assert!(Smtp::from_url("smtp://:25").is_err());
    }
}
