//! `keywheel models [--vision]`: the catalogue, cached for a day.

use keywheel_core::Result;
use keywheel_core::pool::Pool;

use crate::cli::ModelsArgs;
use crate::output;

pub fn run(pool: &Pool, args: &ModelsArgs, json: bool) -> Result<()> {
    let client = super::client(pool)?;
    let mut list = super::runtime()?.block_on(keywheel_core::catalogue::models(
        pool,
        &client,
        args.refresh,
    ))?;
    if args.vision {
        list.retain(|m| m.takes_images());
    }
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
                if m.is_free() {
                    "free".into()
                } else {
                    "paid".into()
                },
            ]
        })
        .collect();
    println!(
        "{}",
        output::table(&["MODEL", "INPUT", "CONTEXT", "PRICE"], &rows)
    );
    Ok(())
}
