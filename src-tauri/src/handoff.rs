//! `OPENROUTER_API_KEYS` leaves the app's environment before anything starts. WebKit's web and
//! network processes (and anything the app or they start) inherit the environment, and
//! `/proc/<pid>/environ` shows a process's *initial* environment for as long as it runs, even
//! after `unsetenv`. So when the variable is set, the app reads it, writes it into a pipe and
//! re-executes itself (same pid, same arguments) without it; the new image reads the keys from
//! that pipe on its standard input. Only safe std APIs are used (`exec`, `io::pipe`).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;

use keywheel_core::keys::env::VAR;
use zeroize::Zeroizing;

/// Set in the re-executed image: the keys are on standard input.
const ON_STDIN: &str = "KEYWHEEL_APP_KEYS_ON_STDIN";

/// More than a pipe holds before a reader exists; such a value stays in the environment.
const PIPE_LIMIT: usize = 60 * 1024;

/// Returns the value of `OPENROUTER_API_KEYS` for this launch, making sure it is not in the
/// process environment. Call first thing in `main`, before any thread starts. Returns only
/// in the process that goes on to run the app (the first image is replaced by `exec`).
pub fn take_env_keys() -> Option<Zeroizing<String>> {
    if std::env::var_os(ON_STDIN).is_some() {
        let mut keys = Zeroizing::new(Vec::new());
        if let Err(e) = std::io::stdin().lock().read_to_end(&mut keys) {
            eprintln!("keywheel: could not read the keys handed over at start ({e})");
        }
        return String::from_utf8(keys.to_vec()).ok().map(Zeroizing::new);
    }
    let value = Zeroizing::new(std::env::var(VAR).ok()?);
    if value.len() > PIPE_LIMIT {
        eprintln!("keywheel: {VAR} is too long to hand over; it stays in the environment");
        return Some(value);
    }
    // `exec` only returns on failure; the app still runs, with the variable left set.
    let e = reexec_without(&value);
    eprintln!("keywheel: could not restart without {VAR} in the environment ({e})");
    Some(value)
}

fn reexec_without(value: &str) -> std::io::Error {
    let (reader, mut writer) = match std::io::pipe() {
        Ok(p) => p,
        Err(e) => return e,
    };
    if let Err(e) = writer.write_all(value.as_bytes()) {
        return e;
    }
    drop(writer);
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut args = std::env::args_os();
    let arg0 = args
        .next()
        .unwrap_or_else(|| OsString::from("keywheel-app"));
    std::process::Command::new(exe)
        .arg0(arg0)
        .args(args)
        .env_remove(VAR)
        .env(ON_STDIN, "1")
        .stdin(reader)
        .exec()
}
