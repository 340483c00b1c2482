//! `auth-emulator`: runs the Latchkey emulator.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use latchkey_emulator::Emulator;

#[derive(Parser)]
#[command(
    name = "auth-emulator",
    version,
    about = "A Clerk-compatible auth backend for local development and CI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the emulator (Frontend API, Backend API, control API on one port).
    Start(StartArgs),
    /// Write the instance (users with password digests, identifications, metadata and external
    /// accounts; webhook endpoints; redirect URLs; settings) as one versioned JSON document. It
    /// holds secrets: keep it private.
    Export(ExportArgs),
    /// Apply an export document to an instance in one transaction: all of it, or nothing and
    /// where it cannot be applied.
    Import(ImportArgs),
}

/// Which database export and import work on.
#[derive(clap::Args)]
struct DatabaseArgs {
    /// The SQLite data directory.
    #[arg(long, default_value = ".latchkey", env = "LATCHKEY_DATA_DIR")]
    data_dir: PathBuf,
    /// A PostgreSQL database instead (postgres://user@host/db).
    #[arg(long, env = "LATCHKEY_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl DatabaseArgs {
    fn database(&self) -> latchkey_emulator::Database {
        match &self.database_url {
            Some(url) => latchkey_emulator::Database::Url(url.clone()),
            None => latchkey_emulator::Database::DataDir(self.data_dir.clone()),
        }
    }
}

#[derive(Parser)]
struct ExportArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Write the document here (created 0600) instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Parser)]
struct ImportArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// The export document.
    file: PathBuf,
}

#[derive(Parser)]
struct StartArgs {
    /// Address to listen on. Off loopback, the control API requires the secret key.
    #[arg(long, default_value = "127.0.0.1", env = "LATCHKEY_HOST")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 4100, env = "LATCHKEY_PORT")]
    port: u16,
    /// Seconds a client has to send a whole request head, after connecting or after its
    /// previous response (idle keep-alive connections close then too).
    #[arg(long, default_value_t = 10, env = "LATCHKEY_HEADER_TIMEOUT_SECS", value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_secs: u64,
    /// Seconds a connection may go without a byte moving either way before it is closed.
    #[arg(long, default_value_t = 90, env = "LATCHKEY_IDLE_TIMEOUT_SECS", value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_secs: u64,
    /// Connections served at once; more wait until one closes.
    #[arg(long, default_value_t = 512, env = "LATCHKEY_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Directory for the database and keys.
    #[arg(long, default_value = ".latchkey", env = "LATCHKEY_DATA_DIR")]
    data_dir: PathBuf,
    /// Keep everything in this PostgreSQL database (postgres://user@host/db) instead of
    /// --data-dir; several processes may share it.
    #[arg(
        long,
        env = "LATCHKEY_DATABASE_URL",
        hide_env_values = true,
        conflicts_with = "ephemeral"
    )]
    database_url: Option<String>,
    /// Keep everything in memory; nothing survives a restart.
    #[arg(long, env = "LATCHKEY_EPHEMERAL")]
    ephemeral: bool,
    /// Fix the secret key (sk_test_…), e.g. for reproducible CI.
    #[arg(long, env = "LATCHKEY_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Fix the publishable key (pk_test_…).
    #[arg(long, env = "LATCHKEY_PUBLISHABLE_KEY")]
    publishable_key: Option<String>,
    /// Hash new passwords with production-strength argon2id parameters (slower sign-up).
    #[arg(long, env = "LATCHKEY_PRODUCTION_PASSWORDS")]
    production_passwords: bool,
    /// Also deliver emails to this SMTP server (smtp://host:port). Every message is captured in
    /// the inbox either way.
    #[arg(long, env = "LATCHKEY_SMTP_URL")]
    smtp_url: Option<String>,
    /// Serve clerk-js and @clerk/ui at /npm/@clerk/… from this folder (a node_modules that
    /// holds @clerk/clerk-js, or a project folder with one), so clerk-js loads offline.
    #[arg(long, value_name = "DIR", env = "LATCHKEY_CLERK_JS_DIR")]
    clerk_js_dir: Option<PathBuf>,
    /// Deliver every webhook event to this URL, signed with the instance's webhook secret.
    #[arg(long, env = "LATCHKEY_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Apply this export document (fixtures) before serving, e.g. with --ephemeral.
    #[arg(long, value_name = "FILE", env = "LATCHKEY_IMPORT")]
    import: Option<PathBuf>,
    /// Print the URLs and keys as one JSON line.
    #[arg(long, env = "LATCHKEY_JSON")]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("auth-emulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Start(args) => runtime.block_on(start(args)),
        Command::Export(args) => export(args),
        Command::Import(args) => import(args),
    }
}

fn export(args: ExportArgs) -> ExitCode {
    let doc = match latchkey_emulator::export(&args.db.database()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("auth-emulator export: {e}");
            return ExitCode::FAILURE;
        }
    };
    let written = match &args.output {
        None => {
            println!("{doc}");
            Ok(())
        }
        Some(path) => write_private(path, doc.as_bytes()),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auth-emulator export: cannot write the document: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `bytes` to a new or truncated file only its owner can read (it holds secrets).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.write_all(b"\n")
}

fn import(args: ImportArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "auth-emulator import: cannot read {}: {e}",
                args.file.display()
            );
            return ExitCode::FAILURE;
        }
    };
    match latchkey_emulator::import(&args.db.database(), &text) {
        Ok(c) => {
            println!(
                "imported {} users, {} external accounts, {} webhook endpoints and {} redirect URLs",
                c.users, c.external_accounts, c.webhook_endpoints, c.redirect_urls
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("auth-emulator import: {e}; nothing was imported");
            ExitCode::FAILURE
        }
    }
}

async fn start(args: StartArgs) -> ExitCode {
    let mut builder = Emulator::builder()
        .host(args.host)
        .port(args.port)
        .production_passwords(args.production_passwords)
        .header_read_timeout(std::time::Duration::from_secs(args.header_timeout_secs))
        .idle_timeout(std::time::Duration::from_secs(args.idle_timeout_secs))
        .max_connections(usize::try_from(args.max_connections).unwrap_or(usize::MAX));
    builder = if args.ephemeral {
        builder.ephemeral()
    } else if let Some(url) = &args.database_url {
        builder.database_url(url)
    } else {
        builder.data_dir(&args.data_dir)
    };
    if let Some(k) = args.secret_key {
        builder = builder.secret_key(k);
    }
    if let Some(k) = args.publishable_key {
        builder = builder.publishable_key(k);
    }
    if let Some(d) = args.clerk_js_dir {
        builder = builder.clerk_js_dir(d);
    }
    if let Some(u) = args.smtp_url {
        builder = builder.smtp_url(u);
    }
    if let Some(u) = args.webhook_url {
        builder = builder.webhook_url(u);
    }
    if let Some(path) = &args.import {
        match std::fs::read_to_string(path) {
            Ok(doc) => builder = builder.import(doc),
            Err(e) => {
                eprintln!("auth-emulator: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let mut emu = match builder.start().await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("auth-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Listen for SIGINT/SIGTERM before saying we are ready: a harness that signals right after
    // reading the ready line must get a graceful shutdown, not the default action (death by signal).
    let signal = shutdown_signal();
    let url = emu.url().to_owned();
    if args.json {
        let line = serde_json::json!({
            "frontend_api_url": url,
            "backend_api_url": url,
            "control_api_url": format!("{url}/_emulator/v1"),
                        "inbox_url": format!("{url}/_emulator/inbox"),
            "dashboard_url": format!("{url}/_emulator/"),
            "publishable_key": emu.publishable_key(),
            "browser_publishable_key": latchkey_protocol::keys::browser_publishable_key(),
            "secret_key": emu.secret_key(),
            "webhook_secret": emu.webhook_secret(),
            "data_dir": if args.ephemeral || args.database_url.is_some() { None } else { Some(args.data_dir.display().to_string()) },
            "database": if args.database_url.is_some() { "postgresql" } else if args.ephemeral { "memory" } else { "sqlite" },
        });
        println!("{line}");
    } else {
        println!("Latchkey auth emulator {}", env!("CARGO_PKG_VERSION"));
        println!("  Frontend API     {url}");
        println!("  Backend API      {url}");
        println!("  Control API      {url}/_emulator/v1");
        println!("  Inbox            {url}/_emulator/inbox");
        println!("  Dashboard        {url}/_emulator/");
        println!("  Publishable key  {}", emu.publishable_key());
        println!("  Secret key       {}", emu.secret_key());
        println!("  Webhook secret   {}", emu.webhook_secret());
        let browser_key = latchkey_protocol::keys::browser_publishable_key();
        println!("  Browser key      {browser_key}  (clerk-js; see below)");
        if args.database_url.is_some() {
            println!("  Data             PostgreSQL (--database-url)");
        } else if args.ephemeral {
            println!("  Data             in memory (--ephemeral)");
        } else {
            println!("  Data             {}", args.data_dir.display());
        }
        println!("clerk-js (browser mode): your app forwards /__clerk/* to {url}, and");
        for (name, code) in latchkey_emulator::snippets::browser_mode(&url) {
            let label = match name {
                "react" => "React: ",
                "express" => "Express: ",
                _ => "",
            };
            println!("  {label}{code}");
        }
        println!("  (clerk-js loads from here with --clerk-js-dir <node_modules>; README, \"Browser mode\")");
        println!("Press Ctrl-C to stop.");
    }
    let trigger = emu.shutdown_trigger();
    tokio::spawn(async move {
        signal.await;
        if let Some(t) = trigger {
            let _ = t.send(());
        }
    });
    emu.wait().await;
    ExitCode::SUCCESS
}

/// Registers for SIGINT and SIGTERM at once (not at first poll) and resolves on the first.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let listeners = signal(SignalKind::terminate())
            .and_then(|term| signal(SignalKind::interrupt()).map(|int| (term, int)));
        async move {
            match listeners {
                Ok((mut term, mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
