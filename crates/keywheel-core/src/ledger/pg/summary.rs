//! The team ledger in one line, for `keywheel status`, `keywheel ledger status` and the app's
//! Usage view — built here once so every face uses the same words:
//! "team ledger: db.example:5432/keywheel — 2 machines, 5 instances live", then one line per
//! machine ("build-server: 3 instances live").

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::ledger::Ledger;

/// Who is on a team ledger right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamSummary {
    /// `host:port/db` (never a password).
    pub ledger: String,
    /// Machines with at least one live instance, by name.
    pub machines: Vec<MachineLive>,
    /// [`TeamSummary::sentence`], for faces that only show text.
    pub sentence: String,
}

/// One machine's live instances on the team ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MachineLive {
    /// The machine's name (`KEYWHEEL_MACHINE` or its host name).
    pub host: String,
    /// Its live instances (heartbeat within the instance TTL).
    pub instances: u32,
    /// [`MachineLive::line`].
    pub line: String,
}

impl TeamSummary {
    /// The summary of `ledger` at `now` (instances whose heartbeat is within `ttl` are live);
    /// `None` for a machine's own SQLite ledger.
    pub fn read(ledger: &Ledger, now: DateTime<Utc>, ttl: Duration) -> Result<Option<Self>> {
        let Some(pg) = ledger.pg() else {
            return Ok(None);
        };
        let machines = pg
            .machines(now, ttl)?
            .into_iter()
            .map(|m| MachineLive::new(m.host, m.instances))
            .collect();
        Ok(Some(Self::new(pg.target().display(), machines)))
    }

    /// A summary from its parts (the sentences are filled in).
    pub fn new(ledger: String, machines: Vec<MachineLive>) -> Self {
        let mut s = Self {
            ledger,
            machines,
            sentence: String::new(),
        };
        s.sentence = s.build_sentence();
        s
    }

    /// Live instances across machines.
    pub fn instances(&self) -> u32 {
        self.machines.iter().map(|m| m.instances).sum()
    }

    /// "team ledger: host:port/db — N machines, M instances live".
    pub fn sentence(&self) -> &str {
        &self.sentence
    }

    fn build_sentence(&self) -> String {
        format!(
            "team ledger: {} — {}, {} live",
            self.ledger,
            plural(self.machines.len() as u64, "machine", "machines"),
            plural(u64::from(self.instances()), "instance", "instances"),
        )
    }
}

impl MachineLive {
    /// One machine's entry (its line filled in).
    pub fn new(host: String, instances: u32) -> Self {
        let line = format!(
            "{host}: {} live",
            plural(u64::from(instances), "instance", "instances")
        );
        Self {
            host,
            instances,
            line,
        }
    }

    /// "build-server: 3 instances live".
    pub fn line(&self) -> &str {
        &self.line
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_team_line_counts_machines_and_instances() {
        let s = TeamSummary::new(
            "db.example:5432/keywheel".into(),
            vec![
                MachineLive::new("build-server".into(), 3),
                MachineLive::new("laptop-anna".into(), 1),
            ],
        );
        assert_eq!(
            s.sentence(),
            "team ledger: db.example:5432/keywheel — 2 machines, 4 instances live"
        );
        assert_eq!(s.machines[0].line(), "build-server: 3 instances live");
        assert_eq!(s.machines[1].line(), "laptop-anna: 1 instance live");
        let one = TeamSummary::new("db:5432/k".into(), vec![MachineLive::new("a".into(), 1)]);
        assert_eq!(
            one.sentence(),
            "team ledger: db:5432/k — 1 machine, 1 instance live"
        );
        let none = TeamSummary::new("db:5432/k".into(), vec![]);
        assert_eq!(
            none.sentence(),
            "team ledger: db:5432/k — 0 machines, 0 instances live"
        );
    }
}
