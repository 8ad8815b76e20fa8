//! `keywheel models [--vision | --chat]`: the catalogue (cached for a day), or a chain as it
//! resolves now, with the reason each entry is in or out (docs/models.md).

use keywheel_core::Result;
use keywheel_core::chains::{ModelChoice, ResolvedChain};
use keywheel_core::dispatch::Kind;
use keywheel_core::ledger::Credits;
use keywheel_core::pool::Pool;

use crate::cli::ModelsArgs;
use crate::output;

pub fn run(pool: &Pool, args: &ModelsArgs, json: bool) -> Result<()> {
    let client = super::client(pool)?;
    let rt = super::runtime()?;
    let kind = match (args.vision, args.chat) {
        (true, _) => Some(Kind::Ocr),
        (_, true) => Some(Kind::Chat),
        _ => None,
    };
    if let Some(kind) = kind {
        if args.refresh {
            rt.block_on(keywheel_core::catalogue::models(pool, &client, true))?;
        }
        let chain = rt.block_on(keywheel_core::catalogue::resolve_chain(
            pool,
            &client,
            kind,
            &ModelChoice::Default,
        ))?;
        if json {
            output::json(&chain);
        } else {
            print_chain(&chain);
        }
        return Ok(());
    }
    let list = rt.block_on(keywheel_core::catalogue::models(
        pool,
        &client,
        args.refresh,
    ))?;
    if json {
        output::json(&list);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|m| {
            vec![
                m.id.clone(),
                m.input_modalities.join("+"),
                m.context_length.map_or("-".into(), |c| c.to_string()),
                if m.is_free() { "free" } else { "paid" }.into(),
            ]
        })
        .collect();
    println!(
        "{}",
        output::table(&["MODEL", "INPUT", "CONTEXT", "PRICE"], &rows)
    );
    Ok(())
}

fn print_chain(chain: &ResolvedChain) {
    let what = match chain.kind {
        Kind::Ocr => "vision",
        Kind::Chat => "chat",
    };
    let account = match chain.credits {
        Credits::Paid => "the account has credits: paid preferences first, then free models",
        Credits::FreeOnly => "the account has no credits: free models only",
        Credits::Unknown => "the account's credit is not known yet: preferences as configured",
    };
    let checked = if chain.checked {
        ""
    } else {
        " (OpenRouter's model list could not be read: sent as configured)"
    };
    println!("The {what} chain, first choice first ({account}){checked}:");
    let mut n = 0;
    let rows: Vec<Vec<String>> = chain
        .entries
        .iter()
        .map(|e| {
            let pos = if e.included {
                n += 1;
                n.to_string()
            } else {
                "-".into()
            };
            let price = match e.free {
                Some(true) => "free",
                Some(false) => "paid",
                None => "?",
            };
            vec![pos, e.id.clone(), price.into(), e.why.clone()]
        })
        .collect();
    println!("{}", output::table(&["#", "MODEL", "PRICE", "WHY"], &rows));
    for (_, note) in &chain.notes {
        println!("{note}");
    }
}
