//! Where the team ledger is: `ledger_url` parsed once, shown to people as `host:port/db` and
//! never with its password.
//!
//! As libpq, the environment fills in what the URL does not say: `PGHOST`, `PGPORT`, `PGUSER`,
//! `PGDATABASE`, and (ledger/pg/tls.rs) `PGSSLMODE` and `PGSSLROOTCERT`. A parameter in the URL
//! (in its authority or path, or as `?host=`, `?port=`, `?user=`, `?dbname=`) wins over the
//! variable; an empty variable counts as unset. The variables only complete a `ledger_url`:
//! without one the ledger stays this machine's SQLite file (docs/team.md).

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
        Self::parse_with_env(url, &|name| std::env::var(name).ok())
    }

    /// [`Self::parse`] with the libpq variables read from `env` instead of the process's
    /// environment.
    pub fn parse_with_env(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let url = url.trim();
        let shown = redact_url(url);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::Usage(format!(
                "ledger_url {shown:?} is not a PostgreSQL URL; give e.g. \
                 postgres://keywheel@db.example:5432/keywheel"
            )));
        }
        // `sslmode=verify-*` and `sslrootcert` are ours (ledger/pg/tls.rs); the driver gets the rest.
        let (driver_url, tls) = super::tls::TlsParams::split(url, &shown, &env)?;
        let driver_url = with_env(&driver_url, &env)?;
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
                "ledger_url {shown:?} names no host (nor does PGHOST); give e.g. \
                 postgres://keywheel@db.example:5432/keywheel"
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

/// `url` (a `postgres://` URL without its TLS parameters) with what `PGHOST`, `PGPORT`,
/// `PGUSER` and `PGDATABASE` say where the URL says nothing: hosts and ports as query
/// parameters (or a port after each host of the authority, since the driver gives a host
/// without one 5432), the user and database as query parameters.
fn with_env(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let (userinfo, hostspec) = match authority.rfind('@') {
        Some(i) => (&authority[..i], &authority[i + 1..]),
        None => ("", authority),
    };
    let keys: Vec<&str> = query
        .split('&')
        .filter_map(|p| p.split_once('=').map(|(k, _)| k).or(Some(p)))
        .collect();
    let in_query = |k: &str| keys.contains(&k);
    let user_given = !userinfo.split(':').next().unwrap_or("").is_empty() || in_query("user");
    let db_given = !path.trim_start_matches('/').is_empty() || in_query("dbname");
    let hosts_given = !hostspec.is_empty() || in_query("host") || in_query("hostaddr");
    let port_in = |chunk: &str| match chunk.rfind(']') {
        Some(i) => chunk[i..].contains(':'),
        None => chunk.contains(':'),
    };
    let ports_given = in_query("port") || hostspec.split(',').any(port_in);
    let enc = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let port = match env("PGPORT") {
        Some(p) if !ports_given => {
            let ok = p.split(',').all(|one| one.trim().parse::<u16>().is_ok());
            if !ok {
                return Err(Error::Usage(format!(
                    "PGPORT={p:?} is not a port number; give e.g. PGPORT=5432, or unset it"
                )));
            }
            Some(p)
        }
        _ => None,
    };
    let mut hostspec = hostspec.to_string();
    let mut extra: Vec<String> = Vec::new();
    match (&port, hostspec.is_empty()) {
        // The driver gives every host of the authority 5432 unless it names a port.
        (Some(p), false) => {
            hostspec = hostspec
                .split(',')
                .map(|h| format!("{h}:{p}"))
                .collect::<Vec<_>>()
                .join(",");
        }
        (Some(p), true) => extra.push(format!("port={}", enc(p))),
        (None, _) => {}
    }
    if !hosts_given && let Some(h) = env("PGHOST") {
        extra.push(format!("host={}", enc(&h)));
    }
    if !user_given && let Some(u) = env("PGUSER") {
        extra.push(format!("user={}", enc(&u)));
    }
    if !db_given && let Some(d) = env("PGDATABASE") {
        extra.push(format!("dbname={}", enc(&d)));
    }
    let at = if userinfo.is_empty() {
        String::new()
    } else {
        format!("{userinfo}@")
    };
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .chain(extra)
        .collect::<Vec<_>>()
        .join("&");
    let sep = if query.is_empty() { "" } else { "?" };
    Ok(format!("{scheme}://{at}{hostspec}{path}{sep}{query}"))
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

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn libpq_variables_fill_in_what_the_url_does_not_say() {
        let env = env_of(&[
            ("PGHOST", "db.example"),
            ("PGPORT", "6543"),
            ("PGUSER", "anna"),
            ("PGDATABASE", "team"),
        ]);
        let t = Target::parse_with_env("postgres://", &env).unwrap();
        assert_eq!(t.display(), "db.example:6543/team");
        assert_eq!(t.config().get_user(), Some("anna"));
        // A host in the URL without a port takes PGPORT; the URL's user and database win.
        let t = Target::parse_with_env("postgres://kw@db2,db3/other", &env).unwrap();
        assert_eq!(t.config().get_ports(), [6543, 6543]);
        assert_eq!(t.display(), "db2:6543/other");
        assert_eq!(t.config().get_user(), Some("kw"));
        // Everything in the URL: no variable applies.
        let t =
            Target::parse_with_env("postgres://kw:pw@db4:5433/x?sslmode=disable", &env).unwrap();
        assert_eq!(t.display(), "db4:5433/x");
        // Query parameters count as said, and an empty variable as unset.
        let t = Target::parse_with_env(
            "postgres:///x?host=db5&port=7000",
            &env_of(&[("PGPORT", "6543"), ("PGUSER", "")]),
        )
        .unwrap();
        assert_eq!(t.display(), "db5:7000/x");
        assert_eq!(t.config().get_user(), None);
        // A Unix socket directory in PGHOST.
        let t = Target::parse_with_env("postgres:///x", &env_of(&[("PGHOST", "/run/pg")])).unwrap();
        assert_eq!(t.host_port(), "/run/pg:5432");
        // Without a host anywhere it is still a usage error.
        let e = Target::parse_with_env("postgres:///x", &env_of(&[])).unwrap_err();
        assert!(e.to_string().contains("PGHOST"), "{e}");
        let e =
            Target::parse_with_env("postgres://db/x", &env_of(&[("PGPORT", "five")])).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("PGPORT=\"five\""), "{e}");
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
