//! Child processes start without our secrets. Every program Keywheel runs (`tesseract` today)
//! gets the parent's environment minus every `OPENROUTER_*` and `KEYWHEEL_*` variable: keys
//! travel in `OPENROUTER_API_KEYS`, and a child has no business reading them (it could log
//! them, or hand them on to its own children).

use std::ffi::{OsStr, OsString};
use std::process::Command;

/// Whether a variable of this name must not reach a child process.
pub fn is_secret_var(name: &OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.starts_with(b"OPENROUTER_") || name.starts_with(b"KEYWHEEL_")
}

/// The names of this process's variables that a child must not see.
pub fn secret_vars() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| is_secret_var(k))
        .collect()
}

/// Removes every secret variable from what `cmd` passes on (the rest of the environment, such
/// as `PATH`, `LANG` and `TESSDATA_PREFIX`, is kept).
pub fn without_secrets(cmd: &mut Command) -> &mut Command {
    for name in secret_vars() {
        cmd.env_remove(name);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openrouter_and_keywheel_variables_are_secret_the_rest_are_not() {
        for name in [
            "OPENROUTER_API_KEYS",
            "OPENROUTER_BASE_URL",
            "KEYWHEEL_DATA_DIR",
        ] {
            assert!(is_secret_var(OsStr::new(name)), "{name}");
        }
        for name in ["PATH", "LANG", "TESSDATA_PREFIX", "HOME", "openrouter_x"] {
            assert!(!is_secret_var(OsStr::new(name)), "{name}");
        }
    }
}
