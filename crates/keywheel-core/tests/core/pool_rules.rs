//! The key pool rules of docs/pool.md, driven with a fake clock on a real SQLite file.

use std::sync::Arc;

use chrono::Duration;
use keywheel_core::dispatch::Kind;
use keywheel_core::keys::MemoryStore;
use keywheel_core::ledger::{Completion, FailureScope, KeyStatus, KeyUpdate};
use keywheel_core::pool::{Instance, Pool, PoolOptions, Reserve};
use keywheel_core::{Clock, Error, FakeClock, KeyId, Settings};

use crate::{id, key};

struct World {
    _dir: tempfile::TempDir,
    clock: Arc<FakeClock>,
    settings: Settings,
    env_keys: String,
}

impl World {
    fn new(keys: u8) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            keychain: false,
            ..Settings::default()
        };
        let env_keys = (1..=keys).map(key).collect::<Vec<_>>().join(",");
        Self {
            _dir: dir,
            clock: Arc::new(FakeClock::at(2026, 11, 26, 9, 0, 0)),
            settings,
            env_keys,
        }
    }

    fn pool(&self) -> Pool {
        Pool::open(PoolOptions {
            settings: self.settings.clone(),
            clock: self.clock.clone(),
            store: Arc::new(MemoryStore::default()),
            env_keys: Some(self.env_keys.clone()),
        })
        .unwrap()
    }

    /// Spends `n` requests through `inst`, 4 s apart so the per-minute cap (20) never binds.
    fn spend(&self, inst: &Instance, n: u32) -> Vec<KeyId> {
        (0..n)
            .map(|_| {
                self.clock.advance(Duration::seconds(4));
                match inst.try_reserve(Kind::Chat, Some("m")).unwrap() {
                    Reserve::Granted(g) => {
                        inst.complete(&g, &Completion::ok()).unwrap();
                        g.reservation.key_id
                    }
                    Reserve::Wait(_) => panic!("unexpected per-minute wait"),
                }
            })
            .collect()
    }
}

#[test]
fn an_instance_started_at_exactly_the_threshold_keeps_the_key_and_one_past_it_rotates() {
    let w = World::new(3);
    let pool = w.pool();
    let first = pool.start_instance("test").unwrap();
    assert_eq!(
        first.key(),
        Some(id(1)),
        "the first instance adopts the first key"
    );
    w.spend(&first, 40);
    drop(first);

    let at_40 = pool.start_instance("test").unwrap();
    assert_eq!(
        at_40.key(),
        Some(id(1)),
        "40 requests is not MORE than 40: keep the key"
    );
    assert!(!at_40.adoption().rotated);
    w.spend(&at_40, 1);
    drop(at_40);

    let at_41 = pool.start_instance("test").unwrap();
    assert!(
        at_41.adoption().rotated,
        "41 > 40: the new instance rotates"
    );
    assert_eq!(
        at_41.key(),
        Some(id(2)),
        "to the usable key with the fewest requests today"
    );
    assert_eq!(
        pool.ledger().current_key().unwrap(),
        Some(id(2)),
        "the pool's current key moved"
    );
}

#[test]
fn a_running_instance_never_rotates_by_itself() {
    let w = World::new(2);
    let pool = w.pool();
    let inst = pool.start_instance("test").unwrap();
    let used = w.spend(&inst, 48);
    assert!(
        used.iter().all(|k| *k == id(1)),
        "all 48 requests stayed on the adopted key"
    );
    assert_eq!(inst.key(), Some(id(1)));
}

#[test]
fn the_daily_cap_is_never_exceeded_and_falls_back_to_another_key() {
    let w = World::new(2);
    let pool = w.pool();
    let inst = pool.start_instance("test").unwrap();
    let used = w.spend(&inst, 60);
    assert_eq!(
        used.iter().filter(|k| **k == id(1)).count(),
        50,
        "key 1 stops at its cap of 50"
    );
    assert_eq!(
        used.iter().filter(|k| **k == id(2)).count(),
        10,
        "the rest fell back to key 2"
    );
    assert_eq!(
        inst.key(),
        Some(id(2)),
        "the instance re-adopted the fallback key"
    );
    assert!(pool.ledger().inconsistencies().unwrap().is_empty());
}

#[test]
fn the_utc_day_rollover_resets_counts() {
    let w = World::new(1);
    let pool = w.pool();
    w.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-11-26T20:00:00Z")
            .unwrap()
            .into(),
    );
    let inst = pool.start_instance("test").unwrap();
    w.spend(&inst, 50);
    let err = inst.try_reserve(Kind::Chat, None).unwrap_err();
    assert!(matches!(err, Error::QuotaExhausted { .. }), "{err}");
    assert_eq!(err.exit_code(), 3);
    let msg = err.to_string();
    assert!(
        msg.contains("spent for today") && msg.contains("00:00 UTC"),
        "{msg}"
    );
    w.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-11-27T00:00:01Z")
            .unwrap()
            .into(),
    );
    assert!(
        matches!(
            inst.try_reserve(Kind::Chat, None).unwrap(),
            Reserve::Granted(_)
        ),
        "a new UTC day frees the key"
    );
    assert_eq!(
        pool.ledger().requests_today(&id(1), w.clock.now()).unwrap(),
        1
    );
}

#[test]
fn the_per_minute_cap_waits_on_the_same_key() {
    let w = World::new(2);
    let pool = w.pool();
    let inst = pool.start_instance("test").unwrap();
    for _ in 0..20 {
        assert!(matches!(
            inst.try_reserve(Kind::Chat, None).unwrap(),
            Reserve::Granted(_)
        ));
    }
    match inst.try_reserve(Kind::Chat, None).unwrap() {
        Reserve::Wait(until) => assert_eq!(until, w.clock.now() + Duration::seconds(60)),
        Reserve::Granted(_) => panic!("the 21st request within a minute must wait"),
    }
    assert_eq!(
        inst.key(),
        Some(id(1)),
        "a per-minute wait does not move to another key"
    );
    w.clock.advance(Duration::seconds(60));
    assert!(matches!(
        inst.try_reserve(Kind::Chat, None).unwrap(),
        Reserve::Granted(_)
    ));
}

#[test]
fn account_caps_hold_across_the_keys_of_one_account() {
    let w = World::new(3);
    let pool = w.pool();
    pool.ledger()
        .update_key(
            &id(1),
            &KeyUpdate {
                account: Some("acme".into()),
                ..Default::default()
            },
        )
        .unwrap();
    pool.ledger()
        .update_key(
            &id(2),
            &KeyUpdate {
                account: Some("acme".into()),
                ..Default::default()
            },
        )
        .unwrap();
    pool.ledger()
        .set_account_caps("acme", Some(30), None)
        .unwrap();
    let inst = pool.start_instance("test").unwrap();
    let used = w.spend(&inst, 40);
    let acme = used.iter().filter(|k| **k == id(1) || **k == id(2)).count();
    assert_eq!(
        acme, 30,
        "the account cap of 30 holds across both of its keys"
    );
    assert_eq!(
        used.iter().filter(|k| **k == id(3)).count(),
        10,
        "then the other account serves"
    );
}

#[test]
fn disabled_and_invalid_keys_are_skipped() {
    let w = World::new(3);
    let pool = w.pool();
    pool.ledger()
        .update_key(
            &id(1),
            &KeyUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    pool.ledger()
        .set_key_status(&id(2), KeyStatus::Invalid, None, Some("401"))
        .unwrap();
    let inst = pool.start_instance("test").unwrap();
    assert_eq!(inst.key(), Some(id(3)));
    drop(inst);
    pool.ledger()
        .set_key_status(&id(3), KeyStatus::NoCredit, None, None)
        .unwrap();
    let inst = pool.start_instance("test").unwrap();
    assert_eq!(inst.key(), None);
    let err = inst.try_reserve(Kind::Chat, None).unwrap_err();
    assert_eq!(err.exit_code(), 4, "no usable key at all is exit 4: {err}");
    let msg = err.to_string();
    assert!(
        msg.contains("1 disabled") && msg.contains("invalid") && msg.contains("out of credit"),
        "{msg}"
    );
}

#[test]
fn account_wide_failures_fall_back_to_another_account() {
    let w = World::new(3);
    let pool = w.pool();
    pool.ledger()
        .update_key(
            &id(1),
            &KeyUpdate {
                account: Some("a".into()),
                ..Default::default()
            },
        )
        .unwrap();
    pool.ledger()
        .update_key(
            &id(2),
            &KeyUpdate {
                account: Some("a".into()),
                ..Default::default()
            },
        )
        .unwrap();
    pool.ledger()
        .update_key(
            &id(3),
            &KeyUpdate {
                account: Some("b".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let inst = pool.start_instance("test").unwrap();
    assert_eq!(inst.key(), Some(id(1)));
    let next = inst.fall_back(&id(1), FailureScope::Account).unwrap();
    assert_eq!(
        next,
        Some(id(3)),
        "an account-wide failure skips every key of that account"
    );
    let next = inst.fall_back(&id(3), FailureScope::Key).unwrap();
    assert_eq!(
        next,
        Some(id(1)),
        "a key-level failure may stay in the same account"
    );
}

#[test]
fn no_keys_at_all_says_how_to_add_one() {
    let mut w = World::new(0);
    w.env_keys.clear();
    let pool = w.pool();
    let inst = pool.start_instance("test").unwrap();
    let err = inst.try_reserve(Kind::Chat, None).unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(err.to_string().contains("keywheel keys add"), "{err}");
}

#[test]
fn a_key_in_its_own_account_can_have_a_cap_above_the_default() {
    let w = World::new(1);
    let pool = w.pool();
    pool.ledger()
        .update_key(
            &id(1),
            &KeyUpdate {
                daily_cap: Some(Some(60)),
                ..Default::default()
            },
        )
        .unwrap();
    let inst = pool.start_instance("test").unwrap();
    let used = w.spend(&inst, 60);
    assert_eq!(
        used.len(),
        60,
        "its implicit account follows the key's own cap of 60, not the default 50"
    );
    assert!(
        inst.try_reserve(Kind::Chat, None).is_err(),
        "the 61st is refused"
    );
}

#[test]
fn reservations_of_an_instance_expired_while_alive_are_abandoned_later() {
    let w = World::new(1);
    let pool = w.pool();
    let ledger = pool.ledger();
    let now = w.clock.now();
    let ghost = ledger.register_instance("test", 1, now).unwrap();
    ledger
        .expire_instances(now + Duration::seconds(60), Duration::seconds(20))
        .unwrap();
    let r = ledger
        .reserve(&keywheel_core::ledger::ReserveRequest {
            instance_id: &ghost,
            key_id: &id(1),
            kind: Kind::Chat,
            model: None,
            now,
        })
        .unwrap();
    assert!(matches!(
        r,
        keywheel_core::ledger::ReserveOutcome::Granted(_)
    ));
    ledger
        .expire_instances(now + Duration::seconds(120), Duration::seconds(20))
        .unwrap();
    let state: String = ledger
        .conn()
        .unwrap()
        .query_row("SELECT state FROM requests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        state, "abandoned",
        "an orphaned reservation does not stay open forever"
    );
    assert_eq!(
        pool.ledger().requests_today(&id(1), now).unwrap(),
        1,
        "and it stays counted"
    );
}

/// Ledger trouble is a sentence naming the file and what to do: a ledger from a newer
/// Keywheel, a damaged file, a read-only file system, a full disk.
mod ledger_trouble {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use keywheel_core::ledger::{CapDefaults, Ledger};
    use keywheel_core::{Error, ErrorCode};

    fn open(path: &Path) -> keywheel_core::Result<Ledger> {
        Ledger::open(path, CapDefaults::default())
    }

    fn refused(path: &Path) -> Error {
        open(path).expect_err("the ledger must not open")
    }

    /// A small tmpfs, unmounted on drop; `None` (with the reason printed) when this test
    /// cannot mount (not root, or no mount permission in this container).
    struct Tmpfs {
        point: PathBuf,
        _dir: tempfile::TempDir,
    }

    impl Tmpfs {
        fn mount(size: &str) -> Option<Tmpfs> {
            let dir = tempfile::tempdir().unwrap();
            let point = dir.path().join("mnt");
            std::fs::create_dir(&point).unwrap();
            let out = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(&point)
                .output();
            match out {
                Ok(o) if o.status.success() => Some(Tmpfs { point, _dir: dir }),
                Ok(o) => {
                    println!(
                        "skipped: cannot mount a tmpfs (needs root): {}",
                        String::from_utf8_lossy(&o.stderr).trim()
                    );
                    None
                }
                Err(e) => {
                    println!("skipped: no `mount` command ({e})");
                    None
                }
            }
        }

        /// Remounts read-only. The kernel refuses ("busy") while any file on it is open for
        /// writing, which a dropped ledger's background checkpoint thread may still hold for a
        /// moment: try again for up to 5 s.
        fn remount_read_only(&self) {
            for _ in 0..50 {
                let ok = Command::new("mount")
                    .args(["-o", "remount,ro"])
                    .arg(&self.point)
                    .stderr(std::process::Stdio::null())
                    .status()
                    .unwrap();
                if ok.success() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            panic!("{} could not be remounted read-only", self.point.display());
        }

        /// Fills the file system to the last byte.
        fn fill(&self) {
            use std::io::Write;
            let mut f = std::fs::File::create(self.point.join("filler")).unwrap();
            let block = vec![0u8; 64 * 1024];
            loop {
                if f.write_all(&block).is_err() {
                    break;
                }
            }
            let byte = [0u8; 1];
            while f.write_all(&byte).is_ok() {}
        }
    }

    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.point).status();
        }
    }

    #[test]
    fn a_ledger_from_a_newer_keywheel_names_both_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite3");
        drop(open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        let known: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "user_version", known + 3).unwrap();
        drop(conn);
        let e = refused(&path);
        let msg = e.to_string();
        assert!(
            msg.contains(&format!(
                "{} was written by a newer Keywheel (schema {}, this one knows {known}); \
                 upgrade, or point KEYWHEEL_DATA_DIR elsewhere",
                path.display(),
                known + 3
            )),
            "{msg}"
        );
        assert_eq!(e.code(), ErrorCode::Storage);
    }

    #[test]
    fn a_damaged_ledger_names_the_file_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite3");
        std::fs::write(&path, "not a database at all, just text ".repeat(300)).unwrap();
        let msg = refused(&path).to_string();
        assert!(msg.contains("is damaged"), "{msg}");
        assert!(msg.contains(&format!("mv {}", path.display())), "{msg}");
        assert!(msg.contains("KEYWHEEL_DATA_DIR"), "{msg}");
    }

    #[test]
    fn a_read_only_ledger_says_so() {
        let Some(fs) = Tmpfs::mount("4m") else {
            return;
        };
        let path = fs.point.join("ledger.sqlite3");
        drop(open(&path).unwrap());
        fs.remount_read_only();
        let e = refused(&path);
        let msg = e.to_string();
        assert!(msg.contains("read-only"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert_eq!(e.code(), ErrorCode::Storage);
    }

    #[test]
    fn a_full_disk_says_so_when_opening_and_when_writing() {
        let Some(fs) = Tmpfs::mount("4m") else {
            return;
        };
        // Open on a full disk: a new ledger cannot be created.
        let fresh = fs.point.join("fresh/ledger.sqlite3");
        let path = fs.point.join("ledger.sqlite3");
        let ledger = open(&path).unwrap();
        fs.fill();
        let msg = refused(&fresh).to_string();
        assert!(
            msg.contains("is full; free some space") && msg.contains(&fresh.display().to_string()),
            "opening: {msg}"
        );
        // A write on a full disk.
        let e = ledger
            .write(|tx| {
                tx.execute_batch("CREATE TABLE IF NOT EXISTS filler (b BLOB)")?;
                for _ in 0..64 {
                    tx.execute("INSERT INTO filler VALUES (zeroblob(65536))", [])?;
                }
                Ok(())
            })
            .expect_err("nothing fits on a full disk");
        let msg = e.to_string();
        assert!(
            msg.contains("is full; free some space") && msg.contains(&path.display().to_string()),
            "writing: {msg}"
        );
        drop(ledger);
    }
}
