//! TLS to the team ledger (docs/team.md, "Security"): libpq's `sslmode` and `sslrootcert` in
//! `ledger_url`, over rustls (the TLS the rest of Keywheel uses) through
//! `tokio-postgres-rustls`.
//!
//! - `disable`, `allow`, `prefer` (the default): no TLS. (libpq's `prefer` tries TLS first;
//!   here it means "not required", so a server without a certificate keeps working.)
//! - `require`: TLS or no connection; the server's certificate is not checked (libpq's
//!   meaning), so it guards against listeners on the wire, not against an impostor.
//! - `verify-ca`: TLS, and the certificate must chain to the CA in `sslrootcert`.
//! - `verify-full`: `verify-ca`, and the certificate must name the host in the URL.
//!
//! `sslrootcert=/path/ca.pem` (PEM, one or more certificates) names the CA; without it
//! `~/.postgresql/root.crt` is used, as libpq does. As libpq, `PGSSLMODE` and `PGSSLROOTCERT`
//! apply when the URL does not give `sslmode` / `sslrootcert`. The driver itself only knows `disable`,
//! `prefer` and `require`, so [`TlsParams::split`] takes both parameters out of the URL before
//! the driver parses it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode as DriverMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// libpq's `sslmode`, as far as Keywheel honours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// `disable`: never TLS.
    Disable,
    /// `allow` / `prefer` (the default): TLS is not required and not attempted.
    #[default]
    Prefer,
    /// `require`: TLS, the certificate unchecked.
    Require,
    /// `verify-ca`: TLS, the certificate signed by the CA in `sslrootcert`.
    VerifyCa,
    /// `verify-full`: `verify-ca`, and the certificate names the host.
    VerifyFull,
}

impl SslMode {
    /// The word in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// Whether the connection must be encrypted.
    pub fn requires_tls(self) -> bool {
        matches!(self, Self::Require | Self::VerifyCa | Self::VerifyFull)
    }
}

/// The TLS half of `ledger_url`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsParams {
    /// `sslmode`.
    pub mode: SslMode,
    /// `sslrootcert`, when given.
    pub root_cert: Option<PathBuf>,
    /// Whether `mode` came from `PGSSLMODE` (the URL gave none), for sentences.
    pub mode_from_env: bool,
    /// Whether `root_cert` came from `PGSSLROOTCERT` (the URL gave none), for sentences.
    pub root_cert_from_env: bool,
}

/// An `sslmode` word; `None` for one Keywheel does not know.
fn parse_mode(word: &str) -> Option<SslMode> {
    Some(match word {
        "disable" => SslMode::Disable,
        "allow" | "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        _ => return None,
    })
}

impl TlsParams {
    /// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL's query, returning the URL
    /// the driver parses (with the driver's own `sslmode` left out: [`Self::driver_mode`] sets
    /// it) and the parameters; `PGSSLMODE` / `PGSSLROOTCERT` (read through `env`) stand in for
    /// those the URL lacks. `shown` is the URL with its password masked, for sentences.
    pub(crate) fn split(
        url: &str,
        shown: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(String, Self)> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut params = Self::default();
        let (mut mode_given, mut kept) = (false, Vec::new());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned();
            match k {
                "sslmode" => {
                    mode_given = true;
                    params.mode = parse_mode(&value).ok_or_else(|| {
                        Error::Usage(format!(
                            "ledger_url {shown:?} has sslmode={value:?}; give one of disable, \
                             prefer, require, verify-ca, verify-full"
                        ))
                    })?;
                }
                "sslrootcert" => params.root_cert = Some(PathBuf::from(value)),
                _ => kept.push(pair),
            }
        }
        if !mode_given && let Some(word) = env("PGSSLMODE") {
            params.mode = parse_mode(&word).ok_or_else(|| {
                Error::Usage(format!(
                    "PGSSLMODE={word:?} is not an sslmode; give one of disable, prefer, require, \
                     verify-ca, verify-full (or unset it, or say sslmode= in ledger_url)"
                ))
            })?;
            params.mode_from_env = true;
        }
        if params.root_cert.is_none()
            && let Some(path) = env("PGSSLROOTCERT")
        {
            params.root_cert = Some(PathBuf::from(path));
            params.root_cert_from_env = true;
        }
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok((url, params))
    }

    /// `sslmode=…` as a sentence names it (with where it came from).
    fn mode_said(&self) -> String {
        let from = if self.mode_from_env {
            " (from PGSSLMODE)"
        } else {
            ""
        };
        format!("sslmode={}{from}", self.mode.as_str())
    }

    /// The CA file as a sentence names it (with where it came from).
    fn root_cert_said(&self) -> Option<String> {
        let path = self.root_cert_path()?;
        let from = if self.root_cert_from_env {
            " (PGSSLROOTCERT)"
        } else {
            ""
        };
        Some(format!("{}{from}", path.display()))
    }

    /// The mode the driver is given: it refuses a plain connection for every mode that
    /// requires TLS, and attempts none otherwise.
    pub(crate) fn driver_mode(&self) -> DriverMode {
        if self.mode.requires_tls() {
            DriverMode::Require
        } else {
            DriverMode::Disable
        }
    }

    /// The CA file `verify-ca`/`verify-full` check against: `sslrootcert`, else
    /// `~/.postgresql/root.crt` (libpq's default).
    fn root_cert_path(&self) -> Option<PathBuf> {
        self.root_cert.clone().or_else(|| {
            let home = std::env::var_os("HOME")?;
            let p = Path::new(&home).join(".postgresql/root.crt");
            p.exists().then_some(p)
        })
    }

    /// The rustls connector for a mode that requires TLS (`None`: a plain connection).
    /// A CA file that cannot be read is a usage error naming it.
    pub(crate) fn connector(&self) -> Result<Option<MakeRustlsConnect>> {
        if !self.mode.requires_tls() {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Storage(format!("TLS for the team ledger: {e}")))?;
        let config = match self.mode {
            SslMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
                .with_no_client_auth(),
            _ => {
                let roots = self.roots()?;
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| Error::Storage(format!("TLS for the team ledger: {e}")))?;
                if self.mode == SslMode::VerifyFull {
                    builder.with_webpki_verifier(webpki).with_no_client_auth()
                } else {
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(AnyName(webpki)))
                        .with_no_client_auth()
                }
            }
        };
        Ok(Some(MakeRustlsConnect::new(config)))
    }

    fn roots(&self) -> Result<RootCertStore> {
        let Some(path) = self.root_cert_path() else {
            return Err(Error::Usage(format!(
                "{} needs the CA that signed the team ledger's certificate: add \
                 sslrootcert=/path/to/ca.pem to ledger_url (or set PGSSLROOTCERT, or put it at \
                 ~/.postgresql/root.crt)",
                self.mode_said()
            )));
        };
        let unreadable = |why: String| {
            Error::Usage(format!(
                "the CA file {} ({}) cannot be used: {why}; give a PEM file with the \
                 certificate of the CA that signed the server's certificate",
                path.display(),
                if self.root_cert_from_env {
                    "PGSSLROOTCERT"
                } else {
                    "sslrootcert"
                }
            ))
        };
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(&path).map_err(|e| unreadable(e.to_string()))?;
        for cert in certs {
            let cert = cert.map_err(|e| unreadable(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| unreadable(format!("a certificate in it is not valid ({e})")))?;
        }
        if roots.is_empty() {
            return Err(unreadable("it holds no PEM certificate".into()));
        }
        Ok(roots)
    }
}

/// `sslmode=require`: any certificate is accepted (libpq's meaning of `require`), but the
/// handshake's signatures are still checked, so the session is encrypted to whoever holds the
/// certificate's key.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain is checked against the CA, the host name is not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The sentence for a connection that failed in TLS (`None`: not a TLS failure). The driver
/// says only "error performing TLS handshake"; the cause under it says what went wrong.
pub(crate) fn explain(e: &tokio_postgres::Error, params: &TlsParams) -> Option<String> {
    if !e.to_string().starts_with("error performing TLS handshake") {
        return None;
    }
    let mut cause = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        cause = inner.to_string();
        src = inner.source();
    }
    let mode = params.mode_said();
    let asks = if params.mode_from_env {
        "PGSSLMODE asks"
    } else {
        "ledger_url asks"
    };
    Some(if cause.contains("does not support TLS") {
        format!(
            "the server does not offer TLS, and {asks} for sslmode={}; turn TLS on at \
             the server (ssl = on, with a certificate, in postgresql.conf) or ask its \
             administrator — Keywheel will not send the ledger's traffic unencrypted",
            params.mode.as_str()
        )
    } else if cause.contains("certificate") || cause.contains("Certificate") {
        let ca = params
            .root_cert_said()
            .unwrap_or_else(|| "sslrootcert".into());
        format!(
            "the server's certificate was not accepted under {mode} ({cause}); check that \
             {ca} is the CA that signed it{}",
            if params.mode == SslMode::VerifyFull {
                " and that it names the host in ledger_url"
            } else {
                ""
            }
        )
    } else {
        format!("the TLS handshake failed under {mode} ({cause})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_parameters_leave_the_url_the_driver_parses() {
        let (url, p) = TlsParams::split(
            "postgres://kw@db/team?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
            "",
            &no_env,
        )
        .unwrap();
        assert_eq!(url, "postgres://kw@db/team?application_name=x");
        assert_eq!(p.mode, SslMode::VerifyFull);
        assert_eq!(p.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(p.driver_mode(), DriverMode::Require);

        let (url, p) =
            TlsParams::split("postgres://kw@db/team?sslmode=require", "", &no_env).unwrap();
        assert_eq!(url, "postgres://kw@db/team");
        assert_eq!(p.mode, SslMode::Require);

        let (url, p) = TlsParams::split("postgres://kw@db/team", "", &no_env).unwrap();
        assert_eq!(url, "postgres://kw@db/team");
        assert_eq!(p.mode, SslMode::Prefer);
        assert_eq!(p.driver_mode(), DriverMode::Disable);
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn pgsslmode_and_pgsslrootcert_apply_where_the_url_says_nothing() {
        let env = |name: &str| match name {
            "PGSSLMODE" => Some("verify-full".to_string()),
            "PGSSLROOTCERT" => Some("/etc/team-ca.pem".to_string()),
            _ => None,
        };
        let (_, p) = TlsParams::split("postgres://kw@db/team", "", &env).unwrap();
        assert_eq!(p.mode, SslMode::VerifyFull);
        assert_eq!(p.root_cert.as_deref(), Some(Path::new("/etc/team-ca.pem")));
        assert!(p.mode_from_env && p.root_cert_from_env);
        // The URL's own parameters win.
        let (_, p) = TlsParams::split(
            "postgres://kw@db/team?sslmode=disable&sslrootcert=/ca.pem",
            "",
            &env,
        )
        .unwrap();
        assert_eq!(p.mode, SslMode::Disable);
        assert_eq!(p.root_cert.as_deref(), Some(Path::new("/ca.pem")));
        assert!(!p.mode_from_env && !p.root_cert_from_env);
        // A word libpq would refuse is refused, naming the variable.
        let bad = |name: &str| (name == "PGSSLMODE").then(|| "on".to_string());
        let e = TlsParams::split("postgres://kw@db/team", "", &bad).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("PGSSLMODE=\"on\""), "{e}");
    }

    #[test]
    fn an_unknown_sslmode_is_a_usage_error_naming_the_choices() {
        let e = TlsParams::split(
            "postgres://db/t?sslmode=always",
            "postgres://db/t?sslmode=always",
            &no_env,
        )
        .unwrap_err();
        assert!(e.to_string().contains("verify-full"), "{e}");
    }

    #[test]
    fn verify_modes_need_a_readable_ca_file() {
        let p = TlsParams {
            mode: SslMode::VerifyFull,
            root_cert: Some("/nonexistent/ca.pem".into()),
            ..TlsParams::default()
        };
        let e = p.connector().err().expect("no CA file");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        assert!(e.to_string().contains("cannot be used"), "{e}");
    }
}
