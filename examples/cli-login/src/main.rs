//! `cli-login`: sign up and sign in from a terminal with the Latchkey client SDK. The session is
//! kept in the OS keychain, so `whoami` and `token` work in later runs without signing in again.
//!
//! ```text
//! cli-login --frontend-api http://127.0.0.1:4100 sign-up jane@example.com
//! cli-login sign-in jane@example.com          # prompts for the emailed code
//! cli-login sign-in jane@example.com --email-link   # waits for the emailed link to be opened
//! cli-login sign-in --oauth github              # in the system browser, back on a loopback port
//! cli-login sign-up --oauth google
//! cli-login whoami
//! cli-login token                              # a fresh session JWT on stdout
//! cli-login sign-out
//! ```
//!
//! Passwords and codes are read from stdin, one line each; with a terminal the password is not
//! echoed. Without one (a script, CI) they are plain lines, so a run can be driven by a pipe:
//! `printf '%s\n' "$PASSWORD" | cli-login --session-file s.json sign-in jane@example.com --password`.
//! OAuth opens the provider's page with the OS's opener; `LATCHKEY_BROWSER` names another
//! browser command (run with the URL as its argument), or `none` to only print the URL (to
//! stderr) for you — or a test — to open. The URL is printed in every case.
//! A stored session belongs to the Frontend API it was made with: pointed at another one, the
//! CLI warns and starts signed out (the token is not sent there).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use latchkey::protocol::ErrorCode;
use latchkey::{
    AuthState, Error, FileStore, KeyringStore, Latchkey, OAuthOutcome, OAuthProvider, SecondFactor,
    SignInAttempt, SignInStatus, SignUpForm, SignUpStep, SystemBrowser,
};

#[derive(Parser)]
#[command(
    name = "cli-login",
    version,
    about = "Sign in from a terminal; the session stays in the OS keychain."
)]
struct Cli {
    /// The Frontend API URL, e.g. an emulator's http://127.0.0.1:4100.
    #[arg(
        long,
        env = "LATCHKEY_FRONTEND_API_URL",
        conflicts_with = "publishable_key"
    )]
    frontend_api: Option<String>,
    /// The instance's publishable key (pk_test_… / pk_live_…): the Frontend API URL comes from it.
    #[arg(long, env = "LATCHKEY_PUBLISHABLE_KEY")]
    publishable_key: Option<String>,
    /// Names the keychain entries.
    #[arg(
        long,
        env = "LATCHKEY_APP_ID",
        default_value = "dev.latchkey.cli-login"
    )]
    app_id: String,
    /// Keep the session in this file (mode 0600) instead of the OS keychain.
    #[arg(long, env = "LATCHKEY_SESSION_FILE")]
    session_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an account: email and password, then the code emailed to you (or --oauth).
    SignUp {
        #[arg(required_unless_present = "oauth")]
        email: Option<String>,
        /// Sign up through this OAuth provider in the browser instead: google, github, apple,
        /// microsoft or `custom_<name>`.
        #[arg(long, conflicts_with_all = ["email", "first_name", "last_name"])]
        oauth: Option<OAuthProvider>,
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
    },
    /// Sign in with the code emailed to you (or --password, --email-link, --oauth).
    SignIn {
        #[arg(required_unless_present = "oauth")]
        email: Option<String>,
        /// Sign in with a password instead of an emailed code.
        #[arg(long, conflicts_with = "email_link")]
        password: bool,
        /// Sign in through this OAuth provider in the browser: google, github, apple, microsoft
        /// or `custom_<name>`. Someone new is signed up.
        #[arg(long, conflicts_with_all = ["email", "password", "email_link"])]
        oauth: Option<OAuthProvider>,
        /// Sign in with a link emailed to you, opened in a browser on any device (the instance
        /// must have email links on). This run waits for it, up to 10 minutes.
        #[arg(long)]
        email_link: bool,
    },
    /// Show who is signed in.
    Whoami,
    /// Print a session token (a JWT for your backend) to stdout.
    Token {
        /// A token from this JWT template.
        #[arg(long)]
        template: Option<String>,
    },
    /// Sign out (--all: every session on this device).
    SignOut {
        #[arg(long)]
        all: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, one line.
fn describe(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

enum Store {
    Keychain(Arc<KeyringStore>),
    File(PathBuf),
}

async fn run(cli: Cli) -> Result<ExitCode, Error> {
    let mut builder = Latchkey::builder(cli.app_id.clone());
    builder = match (&cli.frontend_api, &cli.publishable_key) {
        (Some(url), _) => builder.frontend_api_url(url),
        (None, Some(pk)) => builder.publishable_key(pk),
        (None, None) => {
            return Err(Error::Config(
                "give --frontend-api or --publishable-key (or LATCHKEY_FRONTEND_API_URL)".into(),
            ))
        }
    };
    let store = match &cli.session_file {
        Some(path) => {
            builder = builder.store(FileStore::new(path));
            Store::File(path.clone())
        }
        None => {
            let keychain = Arc::new(KeyringStore::new(cli.app_id.clone()));
            builder = builder.store(keychain.clone());
            Store::Keychain(keychain)
        }
    };
    let lk = builder
        .sync_on_start(false)
        .browser_opener(browser_from_env())
        .build()?;
    let state = lk.ready().await?;
    if let Some(w) = lk.restore_warning() {
        eprintln!(
            "warning: {}; starting signed out",
            describe(&Error::Store(w))
        );
    }

    match cli.command {
        Command::SignUp {
            oauth: Some(provider),
            ..
        } => oauth(&lk, &provider, true).await?,
        Command::SignIn {
            oauth: Some(provider),
            ..
        } => oauth(&lk, &provider, false).await?,
        Command::SignUp {
            email,
            first_name,
            last_name,
            oauth: None,
        } => {
            let email = email.unwrap_or_default();
            let password = prompt_secret("Choose a password: ").await?;
            let mut form = SignUpForm::new().email_address(&email).password(password);
            if let Some(f) = first_name {
                form = form.first_name(f);
            }
            if let Some(l) = last_name {
                form = form.last_name(l);
            }
            let mut sign_up = lk.sign_up(form).await?;
            loop {
                match sign_up.next_step() {
                    SignUpStep::Complete => break,
                    SignUpStep::VerifyEmail { code_sent: false } => {
                        sign_up.prepare_email_code().await?;
                    }
                    SignUpStep::VerifyEmail { code_sent: true } => {
                        let code = prompt(&format!("Code emailed to {email}: ")).await?;
                        if let Err(e) = sign_up.attempt_email_code(&code).await {
                            eprintln!("{}", describe(&e));
                            if !retryable_code_error(&e) {
                                return Err(e);
                            }
                        }
                    }
                    SignUpStep::MissingFields(fields) => {
                        return Err(Error::InvalidState(format!(
                            "this instance also requires: {}",
                            fields.join(", ")
                        )))
                    }
                    other => {
                        return Err(Error::InvalidState(format!(
                            "cannot continue this sign-up from the terminal: {other:?}"
                        )))
                    }
                }
            }
            print_signed_in(&lk.current());
        }
        Command::SignIn {
            email,
            password,
            email_link,
            oauth: None,
        } => {
            let email = email.unwrap_or_default();
            if let Some(user) = state.user() {
                if user.primary_email() == Some(email.trim()) {
                    eprintln!("Already signed in as {email}.");
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let mut attempt = if password {
                let pw = prompt_secret("Password: ").await?;
                lk.sign_in_with_password(&email, &pw).await?
            } else if email_link {
                sign_in_by_link(&lk, &email).await?
            } else {
                let mut attempt = lk.sign_in_with_email_code(&email).await?;
                while attempt.status() == SignInStatus::NeedsFirstFactor {
                    let code = prompt(&format!("Code emailed to {email}: ")).await?;
                    if let Err(e) = attempt.attempt_code(&code).await {
                        eprintln!("{}", describe(&e));
                        if !retryable_code_error(&e) {
                            return Err(e);
                        }
                    }
                }
                attempt
            };
            if attempt.status() == SignInStatus::NeedsSecondFactor {
                second_factor(&mut attempt).await?;
            }
            if attempt.status() != SignInStatus::Complete {
                return Err(Error::InvalidState(format!(
                    "sign-in stopped at {:?}",
                    attempt.status()
                )));
            }
            print_signed_in(&lk.current());
        }
        Command::Whoami => {
            // Check with the server; offline, show what the store says.
            let note = match lk.refresh_client().await {
                Ok(()) => "",
                Err(e) if e.is_offline() => " (offline: as last seen)",
                Err(e) => return Err(e),
            };
            let state = lk.current();
            let (Some(session), Some(user)) = (state.session(), state.user()) else {
                eprintln!("Not signed in.");
                return Ok(ExitCode::FAILURE);
            };
            let name = [user.first_name.as_deref(), user.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            println!(
                "{}{}{note}",
                user.primary_email()
                    .or(user.username.as_deref())
                    .unwrap_or(&user.id),
                if name.is_empty() {
                    String::new()
                } else {
                    format!(" ({name})")
                }
            );
            println!("user     {}", user.id);
            println!("session  {}", session.id);
            println!("sessions {} on this device", lk.sessions().len());
            println!("stored   {}", describe_store(&store).await);
        }
        Command::Token { template } => {
            let token = match template {
                Some(t) => lk.template_token(&t).await?,
                None => lk.session_token().await?,
            };
            println!("{}", token.expose());
        }
        Command::SignOut { all } => {
            if !state.is_signed_in() {
                eprintln!("Not signed in.");
                return Ok(ExitCode::SUCCESS);
            }
            if all {
                lk.sign_out_all().await?;
            } else {
                lk.sign_out().await?;
            }
            match lk.current().user() {
                Some(u) => eprintln!(
                    "Signed out; {} is now active.",
                    u.primary_email().unwrap_or(&u.id)
                ),
                None => eprintln!("Signed out."),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Email-link sign-in: a one-page server on a loopback port is where the browser lands after
/// the link (a page saying to return here); this run polls until the link has been opened,
/// here or on another device.
async fn sign_in_by_link(lk: &Latchkey, email: &str) -> Result<latchkey::SignInAttempt, Error> {
    let io = |e: std::io::Error| Error::Config(format!("cannot listen for the landing page: {e}"));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(io)?;
    let port = listener.local_addr().map_err(io)?.port();
    let served = std::sync::Arc::new(tokio::sync::Notify::new());
    let served_tx = served.clone();
    let landing = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        const PAGE: &str = "<!doctype html><title>Signed in</title><p>You are signed in. Return to your terminal.</p>";
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = [0u8; 2048];
            let _ = conn.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{PAGE}",
                PAGE.len()
            );
            let _ = conn.write_all(reply.as_bytes()).await;
            served_tx.notify_one();
        }
    });
    let landing_url = format!("http://127.0.0.1:{port}/signed-in");
    let result = async {
        let mut attempt = lk
            .sign_in_with_email_link_elsewhere(email, &landing_url)
            .await?;
        eprintln!("We emailed a sign-in link to {email}. Open it in a browser; waiting…");
        attempt
            .wait_for_email_link(std::time::Duration::from_secs(600))
            .await?;
        Ok(attempt)
    }
    .await;
    // The poll may see the link opened before that browser reaches the landing page: keep
    // serving it a little longer (at most 5 s), so the person does not see a refused connection.
    if result.is_ok() {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), served.notified()).await;
    }
    landing.abort();
    result
}

/// The browser OAuth opens, from `LATCHKEY_BROWSER`: unset, the OS's opener; `none`, nobody
/// (the URL is printed for the user); anything else, a command run with the URL. The URL is
/// always printed too, for a machine whose opener does nothing.
fn browser_from_env() -> impl Fn(&str) -> Result<(), Error> + Send + Sync + 'static {
    let choice = std::env::var("LATCHKEY_BROWSER").unwrap_or_default();
    move |url: &str| {
        eprintln!("Open this page to continue: {url}");
        match choice.trim() {
            "" => latchkey::BrowserOpener::open(&SystemBrowser, url),
            "none" => Ok(()),
            command => std::process::Command::new(command)
                .arg(url)
                .stdin(std::process::Stdio::null())
                .spawn()
                .map(drop)
                .map_err(|e| Error::Config(format!("cannot run LATCHKEY_BROWSER={command}: {e}"))),
        }
    }
}

/// `sign-in --oauth` / `sign-up --oauth`: the browser round trip, then what the flow still needs.
async fn oauth(lk: &Latchkey, provider: &OAuthProvider, sign_up: bool) -> Result<(), Error> {
    let outcome = if sign_up {
        eprintln!("Signing up with {provider} in your browser…");
        lk.sign_up_with_oauth(provider).await?
    } else {
        eprintln!("Signing in with {provider} in your browser…");
        lk.sign_in_with_oauth(provider).await?
    };
    finish_oauth(outcome).await?;
    print_signed_in(&lk.current());
    Ok(())
}

/// After the browser: a second factor if the account has one; a sign-up that needs more than
/// the provider gave cannot be finished here.
async fn finish_oauth(outcome: OAuthOutcome) -> Result<(), Error> {
    match outcome {
        OAuthOutcome::SignIn(mut attempt) => {
            if attempt.status() == SignInStatus::NeedsSecondFactor {
                second_factor(&mut attempt).await?;
            }
            if attempt.status() != SignInStatus::Complete {
                return Err(Error::InvalidState(format!(
                    "sign-in stopped at {:?}",
                    attempt.status()
                )));
            }
        }
        OAuthOutcome::SignUp(sign_up) => match sign_up.next_step() {
            SignUpStep::Complete => {}
            SignUpStep::MissingFields(fields) => {
                return Err(Error::InvalidState(format!(
                    "this instance also requires: {}",
                    fields.join(", ")
                )))
            }
            other => {
                return Err(Error::InvalidState(format!(
                    "cannot continue this sign-up from the terminal: {other:?}"
                )))
            }
        },
        other => {
            return Err(Error::InvalidState(format!(
                "cannot continue from the terminal: {other:?}"
            )))
        }
    }
    Ok(())
}

/// Codes the user can simply type again.
fn retryable_code_error(e: &Error) -> bool {
    matches!(
        e.error_code(),
        Some(ErrorCode::FormCodeIncorrect | ErrorCode::FormParamNil)
    )
}

fn print_signed_in(state: &AuthState) {
    match state.user() {
        Some(u) => eprintln!("Signed in as {}.", u.primary_email().unwrap_or(&u.id)),
        None => eprintln!("Not signed in."),
    }
}

async fn describe_store(store: &Store) -> String {
    match store {
        Store::File(p) => format!("file {}", p.display()),
        Store::Keychain(k) => {
            let k = k.clone();
            match tokio::task::spawn_blocking(move || k.backend()).await {
                Ok(Ok(b)) => format!("OS keychain ({})", b.name()),
                Ok(Err(e)) => format!("OS keychain (unavailable: {})", describe(&Error::Store(e))),
                Err(_) => "OS keychain".into(),
            }
        }
    }
}

/// Two-step verification: an authenticator code (or a backup code) where the user has an app,
/// else a code by SMS (or email).
async fn second_factor(attempt: &mut SignInAttempt) -> Result<(), Error> {
    let factors = attempt.second_factors();
    let by_app = factors.contains(&SecondFactor::Totp);
    let sent = [SecondFactor::PhoneCode, SecondFactor::EmailCode]
        .into_iter()
        .find(|f| factors.contains(f));
    if !by_app {
        let Some(f) = sent else {
            return Err(Error::InvalidState(
                "this account's second factor cannot be used from the terminal".into(),
            ));
        };
        attempt.prepare_second_factor(f).await?;
    }
    while attempt.status() == SignInStatus::NeedsSecondFactor {
        let label = if by_app {
            "Authenticator code (or a backup code): "
        } else {
            "Code sent for two-step verification: "
        };
        let code = prompt_secret(label).await?;
        let code = code.trim();
        // Authenticator codes are six digits; backup codes are not.
        let factor = match (by_app, sent) {
            (true, _) if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) => {
                SecondFactor::Totp
            }
            (true, _) => SecondFactor::BackupCode,
            (false, Some(f)) => f,
            (false, None) => SecondFactor::BackupCode,
        };
        if let Err(e) = attempt.attempt_second_factor(factor, code).await {
            eprintln!("{}", describe(&e));
            if !retryable_code_error(&e) {
                return Err(e);
            }
        }
    }
    Ok(())
}

async fn prompt(label: &str) -> Result<String, Error> {
    read_line(label.to_owned(), false).await
}

async fn prompt_secret(label: &str) -> Result<String, Error> {
    read_line(label.to_owned(), true).await
}

/// Reads one line from stdin, with the echo off for secrets when stdin is a terminal.
async fn read_line(label: String, secret: bool) -> Result<String, Error> {
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut err = std::io::stderr();
        write!(err, "{label}")?;
        err.flush()?;
        let hide = secret && std::io::stdin().is_terminal();
        if hide {
            set_echo(false);
        }
        let mut line = String::new();
        let result = std::io::stdin().lock().read_line(&mut line);
        if hide {
            set_echo(true);
            writeln!(err)?;
        }
        if result? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "no input",
            ));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    })
    .await;
    match read {
        Ok(Ok(line)) => Ok(line),
        Ok(Err(e)) => Err(Error::InvalidState(format!("cannot read from stdin: {e}"))),
        Err(e) => Err(Error::InvalidState(format!("cannot read from stdin: {e}"))),
    }
}

/// Turns terminal echo on or off (Unix `stty`; elsewhere the input stays visible).
fn set_echo(on: bool) {
    #[cfg(unix)]
    {
        let _ = std::process::Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .stdin(std::process::Stdio::inherit())
            .status();
    }
    #[cfg(not(unix))]
    let _ = on;
}
