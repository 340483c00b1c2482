//! Email delivery to a real SMTP server (Python's aiosmtpd, started by the test), delivery off,
//! and a failing SMTP server retried by the job.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::Method;
use serde_json::json;

use crate::receiver::Receiver;
use crate::support::*;

struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

/// aiosmtpd's Maildir handler on a port the kernel picks; the script prints the port once it
/// listens, so there is no probing for a free port and no polling for readiness.
const SMTPD: &str = r#"
import asyncio, sys
from aiosmtpd.smtp import SMTP
from aiosmtpd.handlers import Mailbox

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Mailbox(sys.argv[1])), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

/// Starts aiosmtpd (`pip install aiosmtpd`; scripts/test installs it).
async fn smtp_server() -> SmtpServer {
    let maildir = latchkey_testkit::temp_path("maildir");
    let mut child = Command::new("python3")
        .args(["-c", SMTPD])
        .arg(&maildir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 with aiosmtpd (pip install aiosmtpd)");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("aiosmtpd did not start: {line:?}"));
    SmtpServer {
        child,
        port,
        maildir,
    }
}

/// An SMTP server that refuses service: it greets every connection with 421 and hangs up. It
/// holds its port for the whole test, so nothing else can start listening there.
async fn refusing_smtp_server() -> u16 {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let _ = sock
                .write_all(b"421 4.3.2 Service not available, closing channel\r\n")
                .await;
            let _ = sock.shutdown().await;
        }
    });
    port
}

fn mails(maildir: &Path) -> Vec<String> {
    let new = maildir.join("new");
    let Ok(entries) = std::fs::read_dir(&new) else {
        return vec![];
    };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

#[tokio::test]
async fn emails_go_to_the_smtp_server_unless_delivery_is_off() {
    let smtp = smtp_server().await;
    let h = start_from(
        latchkey_emulator::Emulator::builder()
            .ephemeral()
            .smtp_url(format!("smtp://127.0.0.1:{}", smtp.port)),
    )
    .await;
    let rx = Receiver::start().await;
    h.control(
        Method::POST,
        "/webhooks/endpoints",
        Some(json!({"url": rx.url, "events": ["email.created"]})),
    )
    .await
    .ok();
    h.fapi()
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "smtp@example.com"),
                ("password", "lk-Test-pass-4921"),
                ("strategy", "email_code"),
            ],
        )
        .await
        .ok();
    let code = h.latest_code("smtp@example.com").await;
    h.wait_idle().await;
    let got = mails(&smtp.maildir);
    assert_eq!(got.len(), 1, "one email reached the SMTP server");
    assert!(got[0].contains("To: smtp@example.com"), "{}", got[0]);
    assert!(got[0].contains(&code), "the code is in the delivered email");
    let inbox = h
        .control(Method::GET, "/messages?to=smtp@example.com", None)
        .await;
    assert_eq!(inbox.ok()["data"][0]["delivered_via"], "inbox+smtp");

    // Delivery off: captured, not sent; the webhook carries the message for the app to send.
    h.set_settings(json!({"delivered_by_clerk": false})).await;
    h.fapi()
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "byo@example.com"),
                ("password", "lk-Test-pass-4921"),
                ("strategy", "email_code"),
            ],
        )
        .await
        .ok();
    let code = h.latest_code("byo@example.com").await;
    h.wait_idle().await;
    assert_eq!(
        mails(&smtp.maildir).len(),
        1,
        "nothing more reached the SMTP server"
    );
    let hooks = rx.got();
    let byo = hooks
        .iter()
        .map(|d| d.json())
        .find(|b| b["data"]["to_email_address"] == "byo@example.com")
        .expect("email.created for the second email");
    assert_eq!(byo["data"]["delivered_by_clerk"], false);
    assert_eq!(byo["data"]["data"]["otp_code"], code.as_str());
    assert!(byo["data"]["body_plain"].as_str().unwrap().contains(&code));
}

#[tokio::test]
async fn a_failing_smtp_server_is_retried_but_the_inbox_has_the_message_at_once() {
    let port = refusing_smtp_server().await;
    let h = start_from(
        latchkey_emulator::Emulator::builder()
            .ephemeral()
            .smtp_url(format!("smtp://127.0.0.1:{port}")),
    )
    .await;
    h.fapi()
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "down@example.com"),
                ("password", "lk-Test-pass-4921"),
                ("strategy", "email_code"),
            ],
        )
        .await
        .ok();
    assert_eq!(
        h.latest_code("down@example.com").await.len(),
        6,
        "captured despite SMTP being down"
    );
    h.wait_idle().await;
    let jobs = h
        .control(Method::GET, "/jobs?kind=deliver_message", None)
        .await;
    let job = &jobs.ok()["data"][0];
    assert_eq!(job["state"], "queued", "{job}");
    assert_eq!(job["attempts"], 1);
    assert!(
        job["last_error"].as_str().unwrap().starts_with("SMTP"),
        "{job}"
    );
    // Backoff 1 s, 2 s, 4 s, 8 s (±20 %), then dead after five attempts.
    for _ in 0..4 {
        h.advance(10).await;
        h.wait_idle().await;
    }
    let jobs = h
        .control(Method::GET, "/jobs?kind=deliver_message", None)
        .await;
    let job = &jobs.ok()["data"][0];
    assert_eq!(job["state"], "dead", "{job}");
    assert_eq!(job["attempts"], 5);
    // The message stayed in the inbox exactly once.
    let inbox = h
        .control(Method::GET, "/messages?to=down@example.com", None)
        .await;
    assert_eq!(inbox.ok()["data"].as_array().unwrap().len(), 1);
}
