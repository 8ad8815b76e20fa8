//! Where the team ledger is: `ledger_url` parsed once, shown to people as `host:port/db` and
//! never with its password.

use crate::error::{Error, Result};

/// A parsed `postgres://` URL (or libpq key=value string).
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    tls: super::tls::TlsParams,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl Target {
    /// Parses `ledger_url`. A URL that does not parse is a usage error whose sentence shows
    /// the URL with its password masked.
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        let shown = redact_url(url);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::Usage(format!(
                "ledger_url {shown:?} is not a PostgreSQL URL; give e.g. \
                 postgres://keywheel@db.example:5432/keywheel"
            )));
        }
        // `sslmode=verify-*` and `sslrootcert` are ours (ledger/pg/tls.rs); the driver gets the rest.
        let (driver_url, tls) = super::tls::TlsParams::split(url, &shown)?;
        let mut config: tokio_postgres::Config =
            driver_url.parse().map_err(|e: tokio_postgres::Error| {
                Error::Usage(format!(
                    "ledger_url {shown:?} is not a valid PostgreSQL URL ({}); give e.g. \
                 postgres://keywheel@db.example:5432/keywheel",
                    redact_url(&e.to_string())
                ))
            })?;
        if config.get_hosts().is_empty() {
            return Err(Error::Usage(format!(
                "ledger_url {shown:?} names no host; give e.g. postgres://keywheel@db.example:5432/keywheel"
            )));
        }
        config.ssl_mode(tls.driver_mode());
        Ok(Self { config, tls })
    }

    /// `sslmode` and `sslrootcert`.
    pub fn tls(&self) -> &super::tls::TlsParams {
        &self.tls
    }

    /// The driver's configuration.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// `host:port` of the first host (what an "unreachable" sentence names).
    pub fn host_port(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }

    /// The database name (the user's name when none is given, as libpq does).
    pub fn dbname(&self) -> String {
        self.config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("postgres")
            .to_string()
    }

    /// `host:port/db`, for people. Never the password.
    pub fn display(&self) -> String {
        format!("{}/{}", self.host_port(), self.dbname())
    }
}

/// A PostgreSQL URL or connection string with its password masked: `user:***@host` and
/// `password=***`.
pub fn redact_url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    // URL form: scheme://user:password@host
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(['/', '?', ' ', '"', '\'']).unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    // key=value form, and `?password=` in a URL.
    let mut masked = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.to_ascii_lowercase().find("password=") {
        let (head, tail) = rest.split_at(i + "password=".len());
        masked.push_str(head);
        masked.push_str("***");
        let end = tail.find(['&', ' ', '"', '\'']).unwrap_or(tail.len());
        rest = &tail[end..];
    }
    masked.push_str(rest);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_every_form() {
        assert_eq!(
            redact_url("postgres://kw:s3cret@db:5432/team"),
            "postgres://kw:***@db:5432/team"
        );
        assert_eq!(
            redact_url("postgres://db/team?user=kw&password=s3cret&sslmode=require"),
            "postgres://db/team?user=kw&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("host=db password=s3cret user=kw"),
            "host=db password=*** user=kw"
        );
        assert_eq!(redact_url("postgres://kw@db/team"), "postgres://kw@db/team");
    }

    #[test]
    fn a_target_shows_host_port_and_database_only() {
        let t = Target::parse("postgres://kw:s3cret@db.example:6543/team").unwrap();
        assert_eq!(t.display(), "db.example:6543/team");
        assert_eq!(t.host_port(), "db.example:6543");
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn a_bad_url_is_a_sentence_without_its_password() {
        let e = Target::parse("mysql://kw:s3cret@db/team").unwrap_err();
        assert!(e.to_string().contains("not a PostgreSQL URL"), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = Target::parse("postgres://kw:s3cret@db:notaport/team").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
