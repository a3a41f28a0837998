//! The `keel` command: `keel serve` runs the server; `keel objects …` inspects a data directory.

mod config;
mod demo_booking;
mod http_front;
mod inspect;
mod serve;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{FileConfig, ObjectOverrides};

#[derive(Parser)]
#[command(
    name = "keel",
    version,
    about = "Self-hosted runtime for remote MCP servers"
)]
struct Cli {
    /// Settings file (default: ./keel.toml if it exists).
    #[arg(long, global = true, env = "KEEL_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (default ./.keel).
    #[arg(long, global = true, env = "KEEL_DATA")]
    data: Option<PathBuf>,
    /// Log format: human or json.
    #[arg(long, global = true, env = "KEEL_LOG_FORMAT")]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Serve MCP over stdin/stdout (for clients that launch a local command).
    Stdio {
        /// Session name: its object keeps the state, so the same name resumes it (default: a new one).
        #[arg(long)]
        session: Option<String>,
        #[command(flatten)]
        objects: ObjectArgs,
    },
    /// Inspect and move the objects of a data directory (the server must not be running on it).
    #[command(subcommand)]
    Objects(ObjectsCommand),
    /// Demo web sites for the browser tools.
    #[command(subcommand)]
    Demo(DemoCommand),
}

#[derive(Subcommand)]
enum DemoCommand {
    /// A court-booking site (parks, courts 1-6, hourly slots) with no API: book through its pages.
    Booking {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8788")]
        listen: String,
    },
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port and prints it.
    #[arg(long, env = "KEEL_LISTEN")]
    listen: Option<String>,
    /// How long running work may take to finish after SIGTERM (e.g. 30s).
    #[arg(long, env = "KEEL_SHUTDOWN_GRACE")]
    shutdown_grace: Option<String>,
    /// Host header values /mcp accepts, comma-separated (default: localhost,127.0.0.1,::1; * for any).
    #[arg(long, env = "KEEL_ALLOWED_HOSTS")]
    allowed_hosts: Option<String>,
    /// Browser Origins /mcp accepts, comma-separated (default: http://localhost:*, http://127.0.0.1:*,
    /// http://[::1]:*; * for any). Requests without an Origin header always pass.
    #[arg(long, env = "KEEL_ALLOWED_ORIGINS")]
    allowed_origins: Option<String>,
    /// Stop a tool call that runs longer than this (e.g. 60s) and answer with a tool error.
    #[arg(long, env = "KEEL_TOOL_TIMEOUT")]
    tool_timeout: Option<String>,
    /// Largest MCP request body in bytes (default 4 MiB); larger ones get 413.
    #[arg(long, env = "KEEL_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// A request's headers must arrive within this (e.g. 10s); an idle connection closes after it.
    #[arg(long, env = "KEEL_HEADER_TIMEOUT")]
    header_timeout: Option<String>,
    /// Most HTTP connections open at once (default 1024); past it new ones get 503.
    #[arg(long, env = "KEEL_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Delete a session that made no request this long after its initialize (default 10m).
    #[arg(long, env = "KEEL_UNUSED_SESSION_TTL")]
    unused_session_ttl: Option<String>,
    /// Largest answer of the state tools in bytes (default 1 MiB): SQL rows and KV listings past
    /// it are left out, and the answer says how to get the rest.
    #[arg(long, env = "KEEL_MAX_ANSWER_BYTES")]
    max_answer_bytes: Option<usize>,
    /// Most rows a SQL answer carries (default 10000).
    #[arg(long, env = "KEEL_MAX_ANSWER_ROWS")]
    max_answer_rows: Option<usize>,
    /// Tool groups (or single tools) to offer, comma-separated: `default` (state and browser),
    /// `all`, or names from the README's list, e.g. `default,browser-devtools`.
    #[arg(long, env = "KEEL_TOOLS")]
    tools: Option<String>,
    /// Also serve the MCP conformance suite's fixture tools, resources and prompts.
    #[arg(long, hide_short_help = true)]
    conformance: bool,
    /// Serve the browser tools: `auto` (when Chromium is found), `on` (fail without it) or `off`.
    #[arg(long, env = "KEEL_BROWSER")]
    browser: Option<String>,
    /// The Chromium binary (default: `chromium` on PATH or in /usr/bin).
    #[arg(long, env = "KEEL_CHROME")]
    chrome: Option<PathBuf>,
    /// A remote browser's DevTools WebSocket URL (`ws://host:port/devtools/browser/…` or `wss://…`), used
    /// instead of starting Chromium here.
    #[arg(long, env = "KEEL_BROWSER_WS")]
    browser_ws: Option<String>,
    /// Hosts, IPs and networks (comma-separated) pages may reach although they are loopback or
    /// private, e.g. `127.0.0.1,10.0.0.0/8`.
    #[arg(long, env = "KEEL_BROWSER_ALLOW")]
    browser_allow: Option<String>,
    #[command(flatten)]
    objects: ObjectArgs,
}

#[derive(Args, Clone, Default)]
struct ObjectArgs {
    /// Evict objects idle this long (e.g. 60s).
    #[arg(long, env = "KEEL_OBJECTS_IDLE_TIMEOUT")]
    idle_timeout: Option<String>,
    /// Most objects live in memory at once.
    #[arg(long, env = "KEEL_OBJECTS_MAX_LIVE")]
    max_live_objects: Option<usize>,
    /// Longest KV key, in bytes.
    #[arg(long, env = "KEEL_OBJECTS_MAX_KEY_BYTES")]
    max_key_bytes: Option<usize>,
    /// Largest KV value, in bytes.
    #[arg(long, env = "KEEL_OBJECTS_MAX_VALUE_BYTES")]
    max_value_bytes: Option<usize>,
    /// Largest object database, in bytes.
    #[arg(long, env = "KEEL_OBJECTS_MAX_OBJECT_BYTES")]
    max_object_bytes: Option<u64>,
    /// SQLite page cache per live object, in KiB.
    #[arg(long, env = "KEEL_OBJECTS_CACHE_KIB")]
    cache_kib: Option<u32>,
    /// Stop a SQL statement that runs longer than this (e.g. 10s).
    #[arg(long, env = "KEEL_OBJECTS_MAX_STATEMENT_TIME")]
    max_statement_time: Option<String>,
}

impl From<ObjectArgs> for ObjectOverrides {
    fn from(a: ObjectArgs) -> Self {
        Self {
            idle_timeout: a.idle_timeout,
            max_live: a.max_live_objects,
            max_key_bytes: a.max_key_bytes,
            max_value_bytes: a.max_value_bytes,
            max_object_bytes: a.max_object_bytes,
            cache_kib: a.cache_kib,
            max_statement_time: a.max_statement_time,
        }
    }
}

#[derive(Subcommand)]
enum ObjectsCommand {
    /// List stored objects: key, name, size on disk, alarm.
    List {
        /// Only this namespace.
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Print an object's KV entries as JSON lines.
    Kv {
        /// NAMESPACE/ID or NAMESPACE:NAME.
        object: String,
        /// Only keys starting with this.
        prefix: Option<String>,
        /// At most this many entries.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Run one SQL statement against an object and print the result as JSON.
    Sql {
        /// NAMESPACE/ID or NAMESPACE:NAME.
        object: String,
        /// The statement.
        query: String,
        /// Bound parameters, as JSON values (a bare word is a string).
        params: Vec<String>,
    },
    /// Write a consistent copy of an object to FILE.
    Export {
        /// NAMESPACE/ID or NAMESPACE:NAME.
        object: String,
        /// A new file.
        file: PathBuf,
    },
    /// Install an object from a file written by `export`.
    Import {
        /// The exported file.
        file: PathBuf,
        /// Overwrite the object if it exists.
        #[arg(long)]
        replace: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("keel: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let (config_path, explicit) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from("keel.toml"), false),
    };
    let file = FileConfig::load(&config_path, explicit)?;
    let data = cli
        .data
        .clone()
        .or_else(|| file.data.clone())
        .unwrap_or_else(|| PathBuf::from(".keel"));
    let log_format = cli
        .log_format
        .clone()
        .or_else(|| file.log_format.clone())
        .unwrap_or_else(|| "human".into());
    init_logging(&log_format)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => {
            runtime.block_on(serve::run(serve::ServeOptions::resolve(args, &file, data)?))
        }
        Command::Objects(cmd) => runtime.block_on(inspect::run(cmd, &file, data)),
        Command::Stdio { session, objects } => {
            runtime.block_on(serve::run_stdio(session, objects, &file, data))
        }
        Command::Demo(DemoCommand::Booking { listen }) => {
            runtime.block_on(demo_booking::run(config::parse_listen(&listen)?))
        }
    }
}

fn init_logging(format: &str) -> anyhow::Result<()> {
    // rmcp logs every stateless request at info; that costs more than the request itself.
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn"));
    // Colour codes only for a person at a terminal, not in a log file or a collector.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        "human" => builder.init(),
        "json" => builder.json().init(),
        other => anyhow::bail!("log format {other:?} is not known: use human or json"),
    }
    Ok(())
}
