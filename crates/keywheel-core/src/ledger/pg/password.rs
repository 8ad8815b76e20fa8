//! The team ledger's password when `ledger_url` carries none (docs/team.md, "Security"):
//! libpq's password file (`PGPASSFILE`, else `~/.pgpass`), then the OS keychain (stored by
//! `keywheel ledger password`).
//!
//! The password is a [`LedgerPassword`]: it redacts itself in `Debug`, has no `Display` or
//! `Serialize`, and is zeroized on drop; it reaches only the driver's configuration (whose
//! `Debug` redacts it too). A password file that its group or others may read is refused with a
//! sentence (libpq warns and ignores it; a silent ignore would only move the failure to a
//! confusing "password authentication failed").

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::Target;
use crate::error::{Error, Result};

/// A team-ledger password. Never printed, logged, stored in the ledger or sent to the web view.
pub struct LedgerPassword(SecretString);

impl std::fmt::Debug for LedgerPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LedgerPassword(***)")
    }
}

impl LedgerPassword {
    /// Wraps a password read from a person (trailing line break removed). An empty one is a
    /// usage error.
    pub fn new(raw: &str) -> Result<Self> {
        let trimmed = raw.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            return Err(Error::Usage(
                "no password was given; type it, or pipe it on standard input".into(),
            ));
        }
        Ok(Self(SecretString::from(trimmed.to_string())))
    }

    /// The password itself, for the driver only.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Where a password came from (for a log line; never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The URL had one.
    Url,
    /// A line of this password file.
    PassFile(PathBuf),
    /// The OS keychain.
    Keychain,
    /// None was found: the server may not ask for one.
    None,
}

/// The keychain entry's account for a target: `ledger:user@host:port/db`.
pub fn keychain_account(target: &Target) -> String {
    format!(
        "ledger:{}@{}",
        target.config().get_user().unwrap_or(""),
        target.display()
    )
}

/// Stores the password for `target` in the OS keychain (`keywheel ledger password`).
pub fn store_in_keychain(target: &Target, password: &LedgerPassword) -> Result<()> {
    entry(target)?
        .set_password(password.expose())
        .map_err(|e| keychain_error(&e))
}

/// Deletes the stored password for `target`; deleting a missing one is not an error.
pub fn delete_from_keychain(target: &Target) -> Result<()> {
    match entry(target)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(keychain_error(&e)),
    }
}

fn entry(target: &Target) -> Result<keyring::Entry> {
    // Selects the persistent platform store (never keyring's in-memory mock).
    let _ = crate::keys::keychain::OsKeychain::open();
    keyring::Entry::new(crate::keys::keychain::SERVICE, &keychain_account(target))
        .map_err(|e| keychain_error(&e))
}

fn keychain_error(e: &keyring::Error) -> Error {
    Error::Keychain(format!(
        "the OS keychain cannot be used for the team ledger's password ({e}); start a Secret \
         Service keychain (e.g. gnome-keyring), or use a password file (PGPASSFILE, mode 0600)"
    ))
}

/// The password for `target` when its URL has none: the password file, then (when
/// `keychain`) the OS keychain. `Ok(None)` when neither has one.
pub fn find(target: &Target, keychain: bool) -> Result<(Option<LedgerPassword>, Source)> {
    if target.config().get_password().is_some() {
        return Ok((None, Source::Url));
    }
    if let Some(path) = passfile_path()
        && let Some(pw) = from_passfile(&path, target)?
    {
        return Ok((Some(pw), Source::PassFile(path)));
    }
    if keychain {
        match entry(target).and_then(|e| match e.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(&e)),
        }) {
            Ok(Some(s)) => {
                let s = zeroize::Zeroizing::new(s);
                return Ok((Some(LedgerPassword::new(&s)?), Source::Keychain));
            }
            Ok(None) => {}
            // A machine without a keychain may still need no password (trust, a certificate).
            Err(e) => tracing::debug!("no team-ledger password from the keychain: {e}"),
        }
    }
    Ok((None, Source::None))
}

/// `PGPASSFILE`, else `~/.pgpass` when it exists.
fn passfile_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(&std::env::var_os("HOME")?).join(".pgpass");
    p.exists().then_some(p)
}

/// The password of the first line of a libpq password file that matches `target`
/// (`host:port:database:user:password`, `*` matches anything, `\` escapes `:` and `\`,
/// `#` starts a comment). A file its group or others can read is refused.
pub fn from_passfile(path: &Path, target: &Target) -> Result<Option<LedgerPassword>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Usage(format!(
                "the password file {} (PGPASSFILE) cannot be read: {e}",
                path.display()
            )));
        }
    };
    if !meta.is_file() {
        return Ok(None);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Usage(format!(
                "the password file {} (PGPASSFILE) can be read by its group or others (mode \
                 {mode:04o}); Keywheel takes no password from it until you run `chmod 600 {}`",
                path.display(),
                path.display()
            )));
        }
    }
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "the password file {} (PGPASSFILE) cannot be read: {e}",
            path.display()
        ))
    })?);
    let host = match target.config().get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(_)) | None => "localhost".into(),
        #[cfg(not(unix))]
        None => "localhost".into(),
    };
    let port = target
        .config()
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let want = [
        host.as_str(),
        port.as_str(),
        &target.dbname(),
        target.config().get_user().unwrap_or(""),
    ];
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let fields = zeroize::Zeroizing::new(split_fields(line));
        if fields.len() < 5 {
            continue;
        }
        if want
            .iter()
            .zip(fields.iter())
            .all(|(w, f)| f == "*" || f == w)
        {
            return LedgerPassword::new(&fields[4]).map(Some);
        }
    }
    Ok(None)
}

/// A password-file line's fields: split on `:`, with `\:` and `\\` escaped.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().expect("one field").push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str, mode: u32) -> tempfile::NamedTempFile {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    #[test]
    fn the_first_matching_line_wins_with_wildcards_and_escapes() {
        let t = Target::parse("postgres://anna@db.example:6543/team").unwrap();
        let f = file(
            "# comment\nother:6543:team:anna:no\ndb.example:*:team:anna:pa\\:ss\\\\1\n*:*:*:*:late\n",
            0o600,
        );
        let pw = from_passfile(f.path(), &t).unwrap().unwrap();
        assert_eq!(pw.expose(), "pa:ss\\1");
        assert_eq!(format!("{pw:?}"), "LedgerPassword(***)");
        let t = Target::parse("postgres://bob@db.example:6543/team").unwrap();
        assert_eq!(
            from_passfile(f.path(), &t).unwrap().unwrap().expose(),
            "late"
        );
        let f = file("db.example:1:team:anna:x\n", 0o600);
        assert!(from_passfile(f.path(), &t).unwrap().is_none());
    }

    #[test]
    fn a_password_file_others_can_read_is_refused_with_a_sentence() {
        let t = Target::parse("postgres://anna@db/team").unwrap();
        let f = file("*:*:*:*:s3cret-pw\n", 0o644);
        let e = from_passfile(f.path(), &t).unwrap_err();
        let said = e.to_string();
        assert!(said.contains("chmod 600"), "{said}");
        assert!(said.contains("0644"), "{said}");
        assert!(!said.contains("s3cret-pw"), "{said}");
        assert_eq!(e.exit_code(), 2);
    }
}
