//! The content stamp `Ledger::changes` compares after a commit, on both backends: heartbeats
//! leave it as it was (so they wake no window), anything a front end shows moves it.

use keywheel_core::ledger::CapDefaults;

use crate::pg_support::BOTH;
use crate::t0;

#[test]
fn heartbeats_leave_the_content_stamp_and_an_alert_or_a_new_instance_moves_it() {
    for b in BOTH {
        let o = b.open(CapDefaults::default());
        let l = &o.ledger;
        let at = |s: i64| t0() + chrono::Duration::seconds(s);
        let app = l.register_instance("app", 1, at(0)).unwrap();
        let before = l.content_stamp().unwrap();
        for s in 1..4 {
            assert!(l.heartbeat(&app, at(s)).unwrap());
            assert_eq!(l.content_stamp().unwrap(), before, "{b:?}: heartbeat {s}");
        }
        l.fire_alert("near_cap", "k1", "80 %", at(5)).unwrap();
        let alerted = l.content_stamp().unwrap();
        assert_ne!(alerted, before, "{b:?}: an alert");
        l.register_instance("cli", 2, at(6)).unwrap();
        assert_ne!(l.content_stamp().unwrap(), alerted, "{b:?}: a new instance");
    }
}
