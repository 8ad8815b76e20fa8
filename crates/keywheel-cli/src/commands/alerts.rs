//! `keywheel alerts`: what fired recently.

use keywheel_core::Result;
use keywheel_core::pool::Pool;

use crate::cli::AlertsArgs;
use crate::output;

pub fn run(pool: &Pool, args: &AlertsArgs, json: bool) -> Result<()> {
    let rows = pool.ledger().alerts(args.days, pool.now())?;
    if json {
        output::json(&rows);
    } else if rows.is_empty() {
        println!("no alerts in the last {} UTC day(s)", args.days);
    } else {
        for a in &rows {
            println!(
                "{}  {:<18} {}",
                a.at.format("%Y-%m-%d %H:%M UTC"),
                a.rule,
                a.message
            );
        }
    }
    Ok(())
}
