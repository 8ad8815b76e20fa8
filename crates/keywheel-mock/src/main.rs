//! The `keywheel-mock` binary: runs the OpenRouter fake on a loopback address until killed.
//!
//! Its first line on stdout is exactly `listening on http://127.0.0.1:PORT`. Keys never come from
//! argv: either a key file (`key[,account[,flags]]` per line, flags `no-credit` / `no-credits` /
//! `spend-limited` separated by `|`) or an environment variable holding comma- or
//! newline-separated keys. With neither, any key shaped `sk-or-v1-` + 64 lowercase hex is
//! accepted, each its own account.

use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clap::ValueEnum;
use keywheel_mock::{Faults, MockConfig, MockKey, MockServer, NoCreditsBody, UnknownModelShape};

/// A faithful OpenRouter fake for tests, examples and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "keywheel-mock", version)]
struct Args {
    /// Loopback address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,
    /// File of known keys, one `key[,account[,flags]]` per line; flags joined by `|`:
    /// `no-credit` (402 on every model, a negative balance), `no-credits` (the account never
    /// bought credits: 402 on paid models only), `spend-limited` (403 key limit).
    #[arg(long, conflicts_with = "key_env")]
    keys_file: Option<PathBuf>,
    /// Environment variable holding known keys, separated by commas or newlines.
    #[arg(long)]
    key_env: Option<String>,
    /// Requests per account per UTC day.
    #[arg(long, default_value_t = 50)]
    daily_limit: u32,
    /// Requests per account per sliding 60 s.
    #[arg(long, default_value_t = 20)]
    minute_limit: u32,
    /// Milliseconds added before each chat answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Probability (0–1) of a random 502/503.
    #[arg(long, default_value_t = 0.0)]
    error_rate_5xx: f64,
    /// Sleep 120 s before answering chat requests.
    #[arg(long)]
    timeout: bool,
    /// Cut streams (and JSON bodies) mid-way and close the connection.
    #[arg(long)]
    cut_stream: bool,
    /// Answer HTTP 200 with an error body (mid-stream error chunk for streams).
    #[arg(long)]
    error_in_200: bool,
    /// Answer HTTP 200 with truncated JSON.
    #[arg(long)]
    malformed_json: bool,
    /// Answer 524 with a Cloudflare-style HTML page.
    #[arg(long)]
    html_body: bool,
    /// Send `: OPENROUTER PROCESSING` comments between SSE chunks.
    #[arg(long)]
    keepalive_comments: bool,
    /// SSE variant: split every `data:` line across two TCP writes.
    #[arg(long)]
    sse_split_writes: bool,
    /// SSE variant: `\r\n` line endings.
    #[arg(long)]
    sse_crlf: bool,
    /// SSE variant: usage on the finish chunk instead of a separate chunk.
    #[arg(long)]
    usage_on_finish_chunk: bool,
    /// SSE variant: omit `delta.reasoning_details`.
    #[arg(long)]
    no_reasoning_details: bool,
    /// Answer 404 "No endpoints found" for this model (repeatable).
    #[arg(long = "unavailable-model")]
    unavailable_models: Vec<String>,
    /// Answer vision requests with tesseract's OCR of the image (when installed).
    #[arg(long)]
    ocr_tesseract: bool,
    /// Serve this real `GET /api/v1/models` answer (JSON file) verbatim, answer chat from it
    /// (image input from `architecture.input_modalities`, prices from `pricing`; `:free` or
    /// zero-priced = free), and refuse model ids it does not list with OpenRouter's
    /// "<id> is not a valid model ID" 400.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Refuse unknown model ids with the built-in catalogue too.
    #[arg(long)]
    strict_models: bool,
    /// Body of the unknown-id 400: `plain` ({"error":{"message":…,"code":400},"user_id":…}),
    /// `availability` (with error.availability {"code":"model_not_found",…}), or `alternate`.
    #[arg(long, value_enum, default_value = "plain")]
    unknown_model_shape: ShapeArg,
    /// No account has bought credits (tier-2 accounts excepted): paid models answer 402,
    /// free models (`:free` or zero-priced) keep working.
    #[arg(long)]
    no_credits: bool,
    /// Body of the no-credits 402: `never-purchased` ("This account never purchased credits…",
    /// no metadata) or `limit-source` (metadata.limit_source "openrouter_credits").
    #[arg(long, value_enum, default_value = "never-purchased")]
    no_credits_body: NoCreditsArg,
    /// Account that bought 10 credits (repeatable): 1000 free requests a day, paid models
    /// allowed, `is_free_tier: false` in /key.
    #[arg(long = "tier2-account", value_name = "NAME")]
    tier2_accounts: Vec<String>,
    /// Start with requests already used today: `ACCOUNT=N` (repeatable; keys that are their
    /// own account are named by key id).
    #[arg(long = "account-used", value_name = "ACCOUNT=N", value_parser = parse_account_used)]
    account_used: Vec<(String, u32)>,
    /// Answers from this model fail after the quota is counted (repeatable): streams send some
    /// tokens then an error chunk (code 502, finish_reason "error"); JSON answers are HTTP 200
    /// with the 502 error body.
    #[arg(long = "error-in-200-model", value_name = "MODEL")]
    error_in_200_models: Vec<String>,
    /// The first N paid-model requests answer 402 in_flight_budget_exhausted with
    /// `Retry-After: 1`; later ones succeed.
    #[arg(long, default_value_t = 0, value_name = "N")]
    in_flight_402: u32,
    /// The first N paid-model requests answer 402 weight_exceeds_budget.
    #[arg(long, default_value_t = 0, value_name = "N")]
    weight_402: u32,
    /// The first N paid-model requests answer 402 openrouter_key_limit.
    #[arg(long, default_value_t = 0, value_name = "N")]
    key_limit_402: u32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShapeArg {
    Plain,
    Availability,
    Alternate,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum NoCreditsArg {
    NeverPurchased,
    LimitSource,
}

fn parse_account_used(s: &str) -> Result<(String, u32), String> {
    let (account, n) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("expected ACCOUNT=N, got {s:?}"))?;
    let n = n
        .trim()
        .parse()
        .map_err(|_| format!("{n:?} is not a request count"))?;
    Ok((account.trim().to_string(), n))
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let addr = s
        .to_socket_addrs()
        .map_err(|e| format!("bad --addr {s}: {e}"))?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| format!("--addr {s} is not a loopback address; refusing to listen on it"))?;
    Ok(addr)
}

fn parse_key_line(line: &str, lineno: usize) -> Result<Option<MockKey>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.split(',').map(str::trim);
    let key = fields.next().unwrap_or_default();
    let account = fields.next().unwrap_or_default();
    let mut k = MockKey::new(key, account);
    if let Some(flags) = fields.next() {
        for flag in flags.split('|').map(str::trim).filter(|f| !f.is_empty()) {
            match flag.replace('_', "-").as_str() {
                "no-credit" => k.no_credit = true,
                "no-credits" => k.no_paid_credits = true,
                "spend-limited" => k.spend_limited = true,
                other => return Err(format!("line {lineno}: unknown key flag {other:?}")),
            }
        }
    }
    Ok(Some(k))
}

fn load_keys(args: &Args) -> Result<Vec<MockKey>, String> {
    if let Some(path) = &args.keys_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read keys file {}: {e}", path.display()))?;
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(k) = parse_key_line(line, i + 1)? {
                keys.push(k);
            }
        }
        return Ok(keys);
    }
    if let Some(var) = &args.key_env {
        let value =
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?;
        return Ok(value
            .split([',', '\n'])
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| MockKey::new(k, ""))
            .collect());
    }
    Ok(Vec::new())
}

async fn run(args: Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    if !(0.0..=1.0).contains(&args.error_rate_5xx) {
        return Err("--error-rate-5xx must be between 0 and 1".to_string());
    }
    let base = match &args.catalog {
        Some(path) => MockConfig::default()
            .with_catalog_file(path)
            .map_err(|e| e.to_string())?,
        None => MockConfig::default(),
    };
    let cfg = MockConfig {
        keys: load_keys(&args)?,
        daily_limit: args.daily_limit,
        minute_limit: args.minute_limit,
        latency_ms: args.latency_ms,
        faults: Faults {
            error_rate_5xx: args.error_rate_5xx,
            timeout: args.timeout,
            cut_stream: args.cut_stream,
            error_in_200: args.error_in_200,
            malformed_json: args.malformed_json,
            html_body: args.html_body,
            keepalive_comments: args.keepalive_comments,
            sse_split_writes: args.sse_split_writes,
            sse_crlf: args.sse_crlf,
            usage_on_finish_chunk: args.usage_on_finish_chunk,
            no_reasoning_details: args.no_reasoning_details,
            error_in_200_models: args.error_in_200_models,
            in_flight_402: args.in_flight_402,
            weight_402: args.weight_402,
            key_limit_402: args.key_limit_402,
        },
        unavailable_models: args.unavailable_models,
        ocr_with_tesseract: args.ocr_tesseract,
        strict_models: base.strict_models || args.strict_models,
        unknown_model_shape: match args.unknown_model_shape {
            ShapeArg::Plain => UnknownModelShape::Plain,
            ShapeArg::Availability => UnknownModelShape::Availability,
            ShapeArg::Alternate => UnknownModelShape::Alternate,
        },
        no_credits: args.no_credits,
        no_credits_body: match args.no_credits_body {
            NoCreditsArg::NeverPurchased => NoCreditsBody::NeverPurchased,
            NoCreditsArg::LimitSource => NoCreditsBody::LimitSource,
        },
        tier2_accounts: args.tier2_accounts,
        account_used: args.account_used,
        ..base
    };
    let server = MockServer::start_on(cfg, addr)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => e.to_string(),
            _ => format!("cannot listen on {addr}: {e}"),
        })?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.root_url()).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    let _ = tokio::signal::ctrl_c().await;
    drop(server);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("keywheel-mock: {msg}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines() {
        assert!(parse_key_line("# comment", 1).unwrap().is_none());
        assert!(parse_key_line("   ", 1).unwrap().is_none());
        let k = parse_key_line("k1, acct , no-credit|spend_limited", 1)
            .unwrap()
            .unwrap();
        assert_eq!(k.key, "k1");
        assert_eq!(k.account, "acct");
        assert!(k.no_credit && k.spend_limited);
        assert!(parse_key_line("k1,a,bogus", 3).is_err());
        let k = parse_key_line("k2,b,no-credits", 1).unwrap().unwrap();
        assert!(k.no_paid_credits && !k.no_credit);
    }

    #[test]
    fn account_used_values() {
        assert_eq!(
            parse_account_used("acct=7").unwrap(),
            ("acct".to_string(), 7)
        );
        assert!(parse_account_used("acct").is_err());
        assert!(parse_account_used("acct=x").is_err());
    }

    #[test]
    fn only_loopback() {
        assert!(parse_addr("127.0.0.1:0").is_ok());
        assert!(parse_addr("0.0.0.0:0").is_err());
        assert!(parse_addr("[::1]:0").is_ok());
    }
}
