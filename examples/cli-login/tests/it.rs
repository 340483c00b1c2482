//! `cli-login` run for real: the built binary against an in-process emulator, with its session
//! in a `--session-file`. Passwords and codes go in on stdin, as lines (no terminal: no echo
//! games), exactly as a user would type them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use latchkey_backend::{JwksSource, Verifier};
use latchkey_emulator::Emulator;
use latchkey_testkit::{Kit, Method};
use serde_json::{json, Value};

const PASSWORD: &str = "lk-Test-pass-4921";
const APP_ID: &str = "dev.latchkey.cli-login-tests";

struct Run {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            status: o.status,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.status.code(),
            self.stdout,
            self.stderr
        )
    }
}

/// A running `cli-login`; lines for its stdin are written as the test learns them.
struct Child(std::process::Child);

impl Child {
    fn line(&mut self, text: &str) {
        let stdin = self.0.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{text}").expect("write stdin");
    }

    async fn finish(mut self) -> Run {
        drop(self.0.stdin.take());
        tokio::task::spawn_blocking(move || self.0.wait_with_output())
            .await
            .unwrap()
            .expect("cli-login ran")
            .into()
    }
}

struct Cli {
    frontend_api: String,
    session_file: PathBuf,
    app_id: String,
}

impl Cli {
    fn spawn(&self, args: &[&str]) -> Child {
        self.spawn_with(args, &[])
    }

    fn spawn_with(&self, args: &[&str], envs: &[(&str, &str)]) -> Child {
        let child = Command::new(env!("CARGO_BIN_EXE_cli-login"))
            .args([
                "--frontend-api",
                &self.frontend_api,
                "--app-id",
                &self.app_id,
            ])
            .arg("--session-file")
            .arg(&self.session_file)
            .args(args)
            .env_remove("LATCHKEY_PUBLISHABLE_KEY")
            .env_remove("LATCHKEY_FRONTEND_API_URL")
            .env_remove("LATCHKEY_APP_ID")
            .env_remove("LATCHKEY_SESSION_FILE")
            .env_remove("LATCHKEY_BROWSER")
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cli-login starts");
        Child(child)
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.spawn(args).finish().await
    }
}

struct Env {
    kit: Kit,
    dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An emulator with a signing key of its own (a cold start, as a developer's first run).
async fn start() -> Env {
    Env {
        kit: latchkey_testkit::start_from(Emulator::builder().ephemeral()).await,
        dir: latchkey_testkit::temp_path("cli-login"),
    }
}

impl Env {
    fn cli(&self) -> Cli {
        Cli {
            frontend_api: self.kit.url().to_owned(),
            session_file: self.dir.join("profile").join("session.json"),
            app_id: APP_ID.to_owned(),
        }
    }

    async fn create_user(&self, email: &str) -> String {
        let u = self.kit.create_user(email, PASSWORD).await;
        u["id"].as_str().unwrap().to_owned()
    }
}

/// `whoami`'s lines as `(label, value)`, after the first line.
fn whoami_fields(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(char::is_whitespace))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_sign_in_whoami_token_and_sign_out_all_through_the_binary() {
    let env = start().await;
    let cli = env.cli();

    // Signed out to begin with.
    let run = cli.run(&["whoami"]).await;
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("Not signed in."), "{run:?}");

    // sign-up: the password, then the emailed code, on stdin.
    let mut child = cli.spawn(&["sign-up", "jane@example.com", "--first-name", "Jane"]);
    child.line(PASSWORD);
    let code = env.kit.latest_code("jane@example.com").await;
    child.line(&code);
    let run = child.finish().await;
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stderr.contains("Signed in as jane@example.com."),
        "{run:?}"
    );
    assert!(!run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD));
    #[cfg(unix)]
    {
        assert_eq!(mode(&cli.session_file), 0o600);
        assert_eq!(mode(cli.session_file.parent().unwrap()), 0o700);
    }

    // whoami, in a later run, from the session file.
    let run = cli.run(&["whoami"]).await;
    assert!(run.status.success(), "{run:?}");
    assert_eq!(
        run.stdout.lines().next(),
        Some("jane@example.com (Jane)"),
        "{run:?}"
    );
    let fields = whoami_fields(&run.stdout);
    let users = env
        .kit
        .bapi(
            Method::GET,
            "/v1/users?email_address=jane%40example.com",
            None,
        )
        .await;
    let jane_id = users.ok()[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(field(&fields, "user"), jane_id);
    let jane_sid = field(&fields, "session").to_owned();
    assert!(jane_sid.starts_with("sess_"), "{fields:?}");
    assert_eq!(field(&fields, "sessions"), "1 on this device");
    assert_eq!(
        field(&fields, "stored"),
        format!("file {}", cli.session_file.display())
    );

    // token: a JWT for Jane's session that verifies against the emulator's keys.
    let run = cli.run(&["token"]).await;
    assert!(run.status.success(), "{run:?}");
    let jwt = run.stdout.trim();
    let verifier = Verifier::builder()
        .jwks(JwksSource::Frontend {
            url: env.kit.url().to_owned(),
        })
        .build()
        .unwrap();
    let claims = verifier.verify(jwt).await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.sid.as_str()),
        (jane_id.as_str(), jane_sid.as_str())
    );

    // token --template: the template's claims.
    env.kit
        .set_settings(json!({"jwt_templates": {"backend": {
            "claims": {"email": "{{user.primary_email_address}}", "aud": "api"}}}}))
        .await;
    let run = cli.run(&["token", "--template", "backend"]).await;
    assert!(run.status.success(), "{run:?}");
    let payload = jwt_payload(run.stdout.trim());
    assert_eq!(payload["email"], "jane@example.com");
    assert_eq!(payload["aud"], "api");
    assert_eq!(payload["sub"], json!(jane_id));
    let run = cli.run(&["token", "--template", "no_such_template"]).await;
    assert!(!run.status.success(), "{run:?}");
    assert!(run.stderr.starts_with("error: "), "{run:?}");

    // sign-in --password: a second user on the same device.
    env.create_user("bob@example.com").await;
    // A wrong password is the server's error, one line.
    let mut child = cli.spawn(&["sign-in", "bob@example.com", "--password"]);
    child.line("not-the-password");
    let run = child.finish().await;
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(
        run.stderr.contains("error: ") && run.stderr.contains("form_password_incorrect"),
        "{run:?}"
    );
    let mut child = cli.spawn(&["sign-in", "bob@example.com", "--password"]);
    child.line(PASSWORD);
    let run = child.finish().await;
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stderr.contains("Signed in as bob@example.com."),
        "{run:?}"
    );
    // Already signed in as that user: nothing to do.
    let run = cli.run(&["sign-in", "bob@example.com", "--password"]).await;
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stderr.contains("Already signed in as bob@example.com."),
        "{run:?}"
    );

    // sign-in with an emailed code (the default).
    env.create_user("carol@example.com").await;
    let mut child = cli.spawn(&["sign-in", "carol@example.com"]);
    let code = env.kit.latest_code("carol@example.com").await;
    child.line(&code);
    let run = child.finish().await;
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stderr.contains("Signed in as carol@example.com."),
        "{run:?}"
    );

    let run = cli.run(&["whoami"]).await;
    assert!(run.status.success(), "{run:?}");
    assert!(run.stdout.starts_with("carol@example.com\n"), "{run:?}");
    assert_eq!(
        field(&whoami_fields(&run.stdout), "sessions"),
        "3 on this device"
    );

    // sign-out: this session; another one on the device takes over.
    let run = cli.run(&["sign-out"]).await;
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stderr.starts_with("Signed out; ") && run.stderr.contains("is now active."),
        "{run:?}"
    );
    let run = cli.run(&["whoami"]).await;
    assert_eq!(
        field(&whoami_fields(&run.stdout), "sessions"),
        "2 on this device"
    );

    // sign-out --all: every session on this device ends, on the server too.
    let run = cli.run(&["sign-out", "--all"]).await;
    assert!(run.status.success(), "{run:?}");
    assert!(run.stderr.contains("Signed out."), "{run:?}");
    let run = cli.run(&["whoami"]).await;
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("Not signed in."), "{run:?}");
    let active = env
        .kit
        .bapi(
            Method::GET,
            &format!("/v1/sessions?user_id={jane_id}&status=active"),
            None,
        )
        .await;
    assert_eq!(
        *active.ok(),
        json!([]),
        "Jane's session ended on the server"
    );
    let stored = std::fs::read_to_string(&cli.session_file).unwrap();
    assert!(!stored.contains("client_token"), "{stored}");
    let run = cli.run(&["token"]).await;
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("not signed in"), "{run:?}");
}

fn jwt_payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// A session file made for one Frontend API is not used with another: the CLI says so and
/// starts signed out, and the other server never sees the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_file_is_not_carried_to_another_frontend_api() {
    let env = start().await;
    let cli = env.cli();
    env.create_user("moving@example.com").await;
    let mut child = cli.spawn(&["sign-in", "moving@example.com", "--password"]);
    child.line(PASSWORD);
    assert!(child.finish().await.status.success());

    let other = start().await;
    let elsewhere = Cli {
        frontend_api: other.kit.url().to_owned(),
        ..env.cli()
    };
    let run = elsewhere.run(&["whoami"]).await;
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("warning: the stored session belongs to the Frontend API")
            && run.stderr.contains("starting signed out")
            && run.stderr.contains("Not signed in."),
        "{run:?}"
    );
}

/// What a recording server saw.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<axum::http::HeaderMap>>>);

async fn record(
    axum::extract::State(seen): axum::extract::State<Seen>,
    headers: axum::http::HeaderMap,
) -> axum::Json<Value> {
    seen.0.lock().unwrap().push(headers);
    axum::Json(json!({"response": null, "client": null}))
}

/// `--app-id` names the app to the server (User-Agent) — and, with the keychain store, its
/// entries (see the keyring test below).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_id_is_sent_in_the_user_agent() {
    let env = start().await;
    let seen = Seen::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(record)
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let cli = Cli {
        frontend_api: url,
        app_id: "com.example.profile-two".into(),
        ..env.cli()
    };
    let run = cli.run(&["whoami"]).await;
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let ua = seen[0]["user-agent"].to_str().unwrap();
    assert!(ua.ends_with("(com.example.profile-two)"), "{ua}");
}

/// With the OS keychain (no `--session-file`), `--app-id` keeps sessions apart. Needs a Secret
/// Service: `scripts/keyring-session cargo test -p cli-login -- --ignored keyring`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run under scripts/keyring-session"]
async fn keyring_profiles_are_kept_apart_by_app_id() {
    let env = start().await;
    env.create_user("profile@example.com").await;
    // Unique to this run: the test's own temp directory's name.
    let suffix = env.dir.file_name().unwrap().to_string_lossy().into_owned();
    let keychain = |app_id: &str, args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cli-login"));
        c.args(["--frontend-api", env.kit.url(), "--app-id", app_id])
            .args(args)
            .env_remove("LATCHKEY_SESSION_FILE")
            .env_remove("LATCHKEY_PUBLISHABLE_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Child(c.spawn().unwrap())
    };
    let one = format!("dev.latchkey.cli-test.one-{suffix}");
    let two = format!("dev.latchkey.cli-test.two-{suffix}");
    let mut child = keychain(&one, &["sign-in", "profile@example.com", "--password"]);
    child.line(PASSWORD);
    let run = child.finish().await;
    assert!(run.status.success(), "{run:?}");
    let run = keychain(&one, &["whoami"]).finish().await;
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stdout.contains("stored   OS keychain (Secret Service)"),
        "{run:?}"
    );
    let run = keychain(&two, &["whoami"]).finish().await;
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("Not signed in."), "{run:?}");
    // Clean up the keychain items.
    let run = keychain(&one, &["sign-out", "--all"]).finish().await;
    assert!(run.status.success(), "{run:?}");
}

#[tokio::test]
async fn sign_in_by_email_link_waits_for_the_link_and_lands_on_its_own_page() {
    let env = start().await;
    env.kit
        .set_settings(serde_json::json!({"email_address": {"email_link": true}}))
        .await;
    let id = env.create_user("link@example.com").await;
    let cli = env.cli();
    let child = cli.spawn(&["sign-in", "link@example.com", "--email-link"]);
    let m = env.kit.latest_message("link@example.com").await;
    let link = m["link"].as_str().expect("a link").to_owned();
    // A browser follows the link to the CLI's landing page.
    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.url().as_str().starts_with("http://127.0.0.1:"),
        "{}",
        page.url()
    );
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Return to your terminal"));
    let run = child.finish().await;
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stderr.contains("Signed in as link@example.com."),
        "{run:?}"
    );
    let run = cli.run(&["whoami"]).await;
    assert!(run.status.success(), "{run:?}");
    assert_eq!(field(&whoami_fields(&run.stdout), "user"), id);
}

/// `cli-login … --oauth <provider>` with `LATCHKEY_BROWSER=none`: the page it asks to be opened
/// (read from stderr), and the run, whose stderr holds the rest.
async fn oauth_run(cli: &Cli, args: &[&str]) -> (String, Child, std::thread::JoinHandle<String>) {
    let mut child = cli.spawn_with(args, &[("LATCHKEY_BROWSER", "none")]);
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut tx = Some(tx);
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(url) = line.strip_prefix("Open this page to continue: ") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(url.to_owned());
                }
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let url = tokio::time::timeout(std::time::Duration::from_secs(30), rx)
        .await
        .expect("cli-login printed the page to open")
        .expect("a URL before stderr closed");
    (url, child, reader)
}

#[tokio::test]
async fn oauth_sign_in_signs_a_new_user_up_and_sign_up_of_an_existing_one_signs_in() {
    let env = start().await;
    env.kit
        .set_settings(json!({"social": {"oauth_github": {"enabled": true}}}))
        .await;
    let gus = json!({"email": "gus@example.com", "first_name": "Gus", "email_verified": true,
                     "provider_user_id": "gh-7"});
    let cli = env.cli();
    for (args, expect_new) in [
        (["sign-in", "--oauth", "github"], true),
        (["sign-up", "--oauth", "github"], false),
    ] {
        let r = env
            .kit
            .control(Method::POST, "/oauth/github/next", Some(gus.clone()))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (url, child, reader) = oauth_run(&cli, &args).await;
        // The "browser": follows the provider page's redirects back to the CLI's listener.
        let page = reqwest::get(&url).await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(
            page.url().as_str().starts_with("http://127.0.0.1:"),
            "{}",
            page.url()
        );
        assert!(page.url().query().unwrap_or("").contains("lk_state="));
        let run = child.finish().await;
        let stderr = reader.join().unwrap();
        assert!(run.status.success(), "{run:?}{stderr}");
        assert!(stderr.contains("Signed in as gus@example.com."), "{stderr}");
        let users = env.kit.bapi(Method::GET, "/v1/users", None).await;
        assert_eq!(
            users.body.as_array().unwrap().len(),
            1,
            "{expect_new}: one user, Gus"
        );
        cli.run(&["sign-out"]).await;
    }
}

#[tokio::test]
async fn a_denied_oauth_sign_in_fails_and_leaves_the_cli_signed_out() {
    let env = start().await;
    let r = env
        .kit
        .control(
            Method::POST,
            "/oauth/google/next",
            Some(json!({"error": "access_denied"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cli = env.cli();
    let (url, child, reader) = oauth_run(&cli, &["sign-in", "--oauth", "google"]).await;
    let page = reqwest::get(&url).await.unwrap();
    assert!(page.text().await.unwrap().contains("did not complete"));
    let run = child.finish().await;
    let stderr = reader.join().unwrap();
    assert!(!run.status.success(), "{stderr}");
    assert!(stderr.contains("denied"), "{stderr}");
    let run = cli.run(&["whoami"]).await;
    assert!(!run.status.success(), "{run:?}");

    let run = cli.run(&["sign-in", "--oauth", "myspace"]).await;
    assert!(!run.status.success());
    assert!(run.stderr.contains("not an OAuth provider"), "{run:?}");
}
