//! The command line, as clap types. Only definitions; behaviour is in `commands`.

use clap::{Args, Parser, Subcommand};

/// Keywheel: spend several OpenRouter keys carefully — a shared per-key, per-day ledger,
/// rotation at instance start, caps that are never exceeded.
#[derive(Debug, Parser)]
#[command(name = "keywheel", version, about, propagate_version = true)]
pub struct Cli {
    /// Print one JSON document instead of text (errors as {"error":{"code","message"}}).
    #[arg(long, global = true)]
    pub json: bool,

    /// Print model output as received, terminal control sequences included (by default they
    /// are removed).
    #[arg(long, global = true)]
    pub raw: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage API keys (stored in the OS keychain; shown only masked).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The current key, live instances, each key's count today vs its caps, time to reset.
    Status,
    /// Requests per key per UTC day.
    Usage(UsageArgs),
    /// The request log, newest first.
    Log(LogArgs),
    /// Alerts fired in the last days (each fires once per key per UTC day).
    Alerts(AlertsArgs),
    /// Ask DeepSeek R1: the answer streams to stdout, the reasoning (dimmed) to stderr.
    Ask(AskArgs),
    /// List OpenRouter's models (cached for a day), or the resolved vision / chat chain.
    Models(ModelsArgs),
    /// Read the text in images as Markdown (vision model; resumable; local tesseract fallback).
    Ocr(OcrArgs),
    /// Serve the pool to any OpenAI-compatible tool: a local gateway on 127.0.0.1 (see docs/gateway.md).
    Serve(ServeArgs),
    /// The ledger itself: which one (this machine's SQLite file or a team's PostgreSQL), its
    /// schema, the machines on it (see docs/team.md).
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port). Non-loopback needs --allow-remote.
    #[arg(
        long,
        env = "KEYWHEEL_GATEWAY_ADDR",
        default_value = "127.0.0.1:8377",
        value_name = "IP:PORT"
    )]
    pub addr: String,
    /// Allow a non-loopback address: anyone who reaches it with the token can spend the pool.
    #[arg(long)]
    pub allow_remote: bool,
    /// Print the local token clients present (OPENAI_API_KEY) and exit.
    #[arg(long)]
    pub token: bool,
    /// End a session (X-Keywheel-Session) after this many idle seconds.
    #[arg(
        long,
        default_value_t = 600,
        value_name = "SECS",
        env = "KEYWHEEL_SESSION_IDLE_SECS"
    )]
    pub session_idle_secs: u64,
}

/// `ocr` options.
#[derive(Debug, Args)]
pub struct OcrArgs {
    /// Image files (PNG, JPEG, WebP, GIF, BMP, TIFF) and PDF documents. Every file is checked before anything is sent.
    #[arg(required_unless_present_any = ["clipboard", "screen"])]
    pub files: Vec<std::path::PathBuf>,
    /// Read the image on the clipboard instead of files.
    #[arg(long, conflicts_with_all = ["files", "screen"])]
    pub clipboard: bool,
    /// Read the screen instead of files (X11, or the desktop portal on Wayland); with `--region`, only that rectangle.
    #[arg(long, conflicts_with = "files")]
    pub screen: bool,
    /// The rectangle of the screen to read: X,Y,W,H in pixels from its top-left corner, e.g. `0,0,800,600`.
    #[arg(long, value_name = "X,Y,W,H", requires = "screen")]
    pub region: Option<keywheel_capture::Region>,
    /// Put the text that was read on the clipboard too (it stays there after keywheel exits, until something else is copied).
    #[arg(long)]
    pub copy: bool,
    /// Write one `.md` file per image into this directory instead of printing the Markdown.
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Model to use (repeat for a fallback chain); default: the configured vision chain.
    #[arg(long = "model", value_name = "M")]
    pub models: Vec<String>,
    /// How many requests may be in flight at once.
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=16))]
    pub concurrency: u16,
    /// When no key can serve (none configured, all spent, OpenRouter unreachable), read the
    /// images with the local `tesseract` instead of leaving them queued.
    #[arg(long)]
    pub local_fallback: bool,
    /// PDF pages to read, from 1: pages and ranges, e.g. `1-3,7` (default: every page).
    #[arg(long, value_name = "LIST")]
    pub pages: Option<String>,
    /// Send every PDF page to the model, even a page whose text layer could be read for free.
    #[arg(long)]
    pub vision: bool,
}

/// `ask` options.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question, or `-` to read it from standard input.
    pub prompt: String,
    /// Model to ask (repeat for a fallback chain); default: the configured R1 chain.
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// Do not show the reasoning.
    #[arg(long)]
    pub no_reasoning: bool,
    /// Ask in this chat thread (the app's threads; created if there is none): its history goes with the question, and both are saved. An id is 1 to 64 letters, digits and `-`.
    #[arg(long, value_name = "ID")]
    pub thread: Option<String>,
}

/// `models` options.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// The vision chain as it resolves now: each entry and why it is in or out.
    #[arg(long, conflicts_with = "chat")]
    pub vision: bool,
    /// The chat chain as it resolves now: each entry and why it is in or out.
    #[arg(long)]
    pub chat: bool,
    /// Fetch again even if the cached list is less than a day old.
    #[arg(long)]
    pub refresh: bool,
}

/// `keywheel keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a key. The key is read from standard input (never from the command line).
    Add(AddArgs),
    /// List keys: id, label, account, masked key, source, today's count and caps.
    List,
    /// Remove a key from the keychain and the key list (its usage history stays).
    Rm(IdArg),
    /// Let the pool use a key again.
    Enable(IdArg),
    /// Stop the pool from using a key.
    Disable(IdArg),
    /// Change a key's label, account or caps.
    Set(SetArgs),
    /// Ask OpenRouter about keys (GET /key; spends no quota). All keys, or one.
    Check(CheckArgs),
}

/// `keys check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Key id (default: every key this process holds).
    pub id: Option<String>,
}

/// `keys add` options.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// A name to recognise the key by.
    #[arg(long)]
    pub label: Option<String>,
    /// The account the key belongs to (keys of one account share its free-model quota).
    #[arg(long)]
    pub account: Option<String>,
}

/// A key id (or a unique prefix of at least 4 characters).
#[derive(Debug, Args)]
pub struct IdArg {
    /// Key id, as shown by `keywheel keys list`.
    pub id: String,
}

/// `keys set` options.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Key id, as shown by `keywheel keys list`.
    pub id: String,
    /// Requests per UTC day for this key.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub daily_cap: Option<u32>,
    /// Requests per minute for this key.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub minute_cap: Option<u32>,
    /// Account name ("" puts the key back in its own account).
    #[arg(long)]
    pub account: Option<String>,
    /// New label.
    #[arg(long)]
    pub label: Option<String>,
}

/// `usage` options.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// How many UTC days to show, today included.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
    /// Only this key (id or unique prefix).
    #[arg(long)]
    pub key: Option<String>,
    /// Print CSV (one row per key per day) instead of a table.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
}

/// `log` options.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// How many requests to show.
    #[arg(long, default_value_t = 20)]
    pub tail: usize,
    /// Only this key (id or unique prefix).
    #[arg(long)]
    pub key: Option<String>,
    /// Only requests that fell back or rotated.
    #[arg(long)]
    pub fallbacks: bool,
}

/// `ledger` subcommands.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// The backend, the schema version and the live instances per machine.
    Status,
    /// Run the ledger's migrations now (a normal start also does when the schema is behind).
    Migrate,
    /// Write this machine's ledger history (keys metadata — never a key —, accounts, day
    /// totals, the request log) to standard output as JSON lines, for `ledger import`.
    Export,
    /// Add a `ledger export` stream (standard input, or FILE) to a team ledger in one
    /// transaction; importing the same history twice changes nothing.
    Import(LedgerImportArgs),
    /// Store the team ledger's password in the OS keychain, read from standard input (a
    /// hidden prompt on a terminal), for a ledger_url without one.
    Password(LedgerPasswordArgs),
}

/// `ledger import` options.
#[derive(Debug, Args)]
pub struct LedgerImportArgs {
    /// The team ledger (default: ledger_url). Keep its password out of the command line: use
    /// `keywheel ledger password` or PGPASSFILE.
    #[arg(long, value_name = "postgres://…")]
    pub to: Option<String>,
    /// The export to read (default: standard input).
    pub file: Option<std::path::PathBuf>,
}

/// `ledger password` options.
#[derive(Debug, Args)]
pub struct LedgerPasswordArgs {
    /// The team ledger the password is for (default: ledger_url).
    #[arg(long, value_name = "postgres://…")]
    pub url: Option<String>,
    /// Delete the stored password instead.
    #[arg(long)]
    pub delete: bool,
}

/// `alerts` options.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// How many UTC days back.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
}
