//! `keywheel serve [--addr 127.0.0.1:PORT] [--allow-remote] [--token]`: the local
//! OpenAI-compatible gateway over the pool (`keywheel-gateway`), until SIGTERM or Ctrl-C.
//!
//! The first line on stdout is `listening on http://ADDR` (port 0 picks a free one); stderr gets
//! the `export` line for OpenAI-compatible tools. `--token` prints the local token alone and
//! exits. A non-loopback address needs `--allow-remote` (else exit 2 with the reason).

use std::io::Write as _;

use keywheel_core::pool::Pool;
use keywheel_core::{Error, Result};
use keywheel_gateway::{Gateway, GatewaySettings, LocalToken};

use crate::cli::ServeArgs;

pub fn run(pool: &Pool, args: &ServeArgs) -> Result<()> {
    if args.token {
        let token = LocalToken::load_or_create(pool)?;
        println!("{}", token.expose());
        return Ok(());
    }
    let addr: std::net::SocketAddr = args.addr.parse().map_err(|_| {
        Error::Usage(format!(
            "--addr {:?} is not an address; give IP:PORT, e.g. 127.0.0.1:8377",
            args.addr
        ))
    })?;
    if !addr.ip().is_loopback() && !args.allow_remote {
        return Err(Error::Usage(keywheel_gateway::remote_refusal(addr)));
    }
    let settings = GatewaySettings {
        allow_remote: args.allow_remote,
        session_idle: std::time::Duration::from_secs(args.session_idle_secs.max(1)),
        // The aliases follow edits of the file the settings came from (docs/gateway.md).
        config: keywheel_core::config::config_path(&|k| std::env::var(k).ok()),
        ..GatewaySettings::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keywheel-serve")
        .build()
        .map_err(|e| Error::io("could not start the async runtime", e))?;
    rt.block_on(async {
        let handle = Gateway::start(pool.clone(), settings, addr).await?;
        let a = handle.addr();
        println!("listening on http://{a}");
        let _ = std::io::stdout().flush();
        if !a.ip().is_loopback() {
            eprintln!("keywheel serve: {}", keywheel_gateway::remote_warning(a));
        }
        eprintln!(
            "keywheel serve: point OpenAI-compatible tools here with\n  export OPENAI_BASE_URL=http://{a}/v1 OPENAI_API_KEY=$(keywheel serve --token)\nkeywheel serve: stop with Ctrl-C (answers in flight finish first)"
        );
        let stop = handle.stopper();
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        handle.wait().await?;
        eprintln!("keywheel serve: stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
