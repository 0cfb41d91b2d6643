//! The CA, the server certificate and the token signing key: made per run, or kept in a state
//! directory (`--state-dir`) so that a restarted emulator serves the same CA and JWKS.
//!
//! Files (keys 0600 in a 0700 directory): `ca.pem` (what clients trust), `ca-key.pem`,
//! `server.pem`, `server-key.pem`, `server-names.json` (the names the server certificate was
//! issued for), `ca-names.json` (the names the CA may certify besides loopback: its name
//! constraints) and `signing-key.pem`. A server certificate for other names the CA may certify,
//! or with less than a week left, is issued again by the kept CA; names it may not certify are
//! refused (a new CA is made once ca.pem is removed). One emulator at a time should create a state
//! directory; any number may then share it.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::signing::Signer;
use crate::tls::{Ca, ServerCert};

/// A throw-away CA (and its server certificate) lives a month; one in a state directory is
/// meant to be pinned, so it lives ten years and its server certificate one.
const RUN_DAYS: i64 = 30;
const KEPT_CA_DAYS: i64 = 3650;
const KEPT_SERVER_DAYS: i64 = 365;
/// A kept server certificate is issued again when it has less than this left.
const RENEW_DAYS: i64 = 7;

pub(crate) struct Keys {
    pub ca: Ca,
    pub server: ServerCert,
    pub signer: Signer,
    /// `ca.pem` in the state directory (else the caller writes a temporary one).
    pub ca_path: Option<PathBuf>,
}

fn signing_error(message: String) -> Error {
    Error::new(crate::error::ErrorKind::Io, message)
}

/// Made anew: a CA for this run, its server certificate for `names`, the process's signing key.
pub(crate) fn ephemeral(names: &[String]) -> Result<Keys> {
    let ca = Ca::generate(RUN_DAYS, names).map_err(|e| Error::io("making the CA", e))?;
    let server = ca
        .issue(names, "127.0.0.1", RUN_DAYS)
        .map_err(|e| Error::io("issuing the server certificate", e))?;
    let signer = Signer::generate().map_err(signing_error)?;
    Ok(Keys {
        ca,
        server,
        signer,
        ca_path: None,
    })
}

/// Loaded from `dir`, with whatever is missing made and saved.
pub(crate) fn kept(dir: &Path, names: &[String]) -> Result<Keys> {
    let context = |what: &str, e: io::Error| Error::io(format!("{what} in {}", dir.display()), e);
    crate::files::create_private_dir(dir)
        .map_err(|e| context("creating the state directory", e))?;
    let file = |name: &str| dir.join(name);
    let read = |name: &str| -> Result<Option<String>> {
        match std::fs::read_to_string(file(name)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(context(&format!("reading {name}"), e)),
        }
    };

    let names_json = serde_json::to_string(names).unwrap_or_default();
    let ca = match (read("ca.pem")?, read("ca-key.pem")?) {
        (Some(pem), Some(key)) => {
            // A CA made for other names (name constraints) cannot certify these; one kept from
            // before name constraints (no ca-names.json) certifies any.
            if let Some(ca_names) = read("ca-names.json")? {
                let permitted: Vec<String> = serde_json::from_str(&ca_names).unwrap_or_default();
                if let Some(name) = names
                    .iter()
                    .find(|n| !is_loopback_name(n) && !permitted.contains(n))
                {
                    return Err(Error::config(format!(
                        "{}: the kept CA may certify loopback and {permitted:?} only, not \
                         {name:?}: remove ca.pem and ca-key.pem there to make a new CA (clients \
                         must then trust the new ca.pem)",
                        dir.display()
                    )));
                }
            }
            Ca::load(&pem, &key).map_err(|e| {
                Error::config(format!("{}: the kept CA is unusable: {e}", dir.display()))
            })?
        }
        _ => {
            let ca =
                Ca::generate(KEPT_CA_DAYS, names).map_err(|e| Error::io("making the CA", e))?;
            write(&file("ca-names.json"), &names_json, false)
                .map_err(|e| context("saving ca-names.json", e))?;
            write(&file("ca-key.pem"), ca.key_pem(), true)
                .map_err(|e| context("saving ca-key.pem", e))?;
            write(&file("ca.pem"), &ca.pem, false).map_err(|e| context("saving ca.pem", e))?;
            // A new CA did not issue the old server certificate.
            let _ = std::fs::remove_file(file("server.pem"));
            ca
        }
    };

    let kept_server = match (
        read("server.pem")?,
        read("server-key.pem")?,
        read("server-names.json")?,
    ) {
        (Some(cert_pem), Some(key_pem), Some(kept_names)) if kept_names == names_json => {
            let server = ServerCert { cert_pem, key_pem };
            fresh(&server).then_some(server)
        }
        _ => None,
    };
    let server = match kept_server {
        Some(server) => server,
        None => {
            let server = ca
                .issue(names, "127.0.0.1", KEPT_SERVER_DAYS)
                .map_err(|e| Error::io("issuing the server certificate", e))?;
            write(&file("server-key.pem"), &server.key_pem, true)
                .map_err(|e| context("saving server-key.pem", e))?;
            write(&file("server.pem"), &server.cert_pem, false)
                .map_err(|e| context("saving server.pem", e))?;
            write(&file("server-names.json"), &names_json, false)
                .map_err(|e| context("saving server-names.json", e))?;
            server
        }
    };

    let signer = match read("signing-key.pem")? {
        Some(pem) => Signer::from_pem(&pem)
            .map_err(|e| Error::config(format!("{}: signing-key.pem: {e}", dir.display())))?,
        None => {
            let signer = Signer::generate().map_err(signing_error)?;
            write(&file("signing-key.pem"), signer.pem(), true)
                .map_err(|e| context("saving signing-key.pem", e))?;
            signer
        }
    };
    Ok(Keys {
        ca,
        server,
        signer,
        ca_path: Some(file("ca.pem")),
    })
}

/// Loopback names every CA of the emulator may certify.
fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a kept certificate has more than [`RENEW_DAYS`] left.
fn fresh(server: &ServerCert) -> bool {
    let Ok(der) = server.der() else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
        return false;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    cert.validity().not_after.timestamp() > now + RENEW_DAYS * 86_400
}

/// Keys are readable by this user only.
fn write(path: &Path, text: &str, secret: bool) -> io::Result<()> {
    crate::files::replace(path, text.as_bytes(), secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_directory_keeps_everything() {
        let dir = std::env::temp_dir().join(format!("emulator-state-{}", uuid::Uuid::new_v4()));
        let names = crate::tls::server_names(&[]);
        let first = kept(&dir, &names).expect("made");
        let second = kept(&dir, &names).expect("loaded");
        assert_eq!(first.ca.pem, second.ca.pem);
        assert_eq!(first.server.cert_pem, second.server.cert_pem);
        assert_eq!(first.signer.kid(), second.signer.kid());
        assert_eq!(second.ca_path, Some(dir.join("ca.pem")));
        // The CA may certify loopback and the names it was made for (its name constraints):
        // other names are refused with the way out, and nothing kept changes.
        let refused = kept(&dir, &crate::tls::server_names(&["emulator.test".into()]))
            .err()
            .expect("refused");
        assert!(refused.to_string().contains("remove ca.pem"), "{refused}");
        let again = kept(&dir, &names).expect("loaded");
        assert_eq!(again.server.cert_pem, first.server.cert_pem);
        // Made for extra names, it issues for them, and for fewer.
        let named = std::env::temp_dir().join(format!("emulator-state-{}", uuid::Uuid::new_v4()));
        let extra = crate::tls::server_names(&["emulator.test".into()]);
        let with_name = kept(&named, &extra).expect("made");
        let fewer = kept(&named, &names).expect("loopback only");
        assert_eq!(fewer.ca.pem, with_name.ca.pem);
        assert_ne!(fewer.server.cert_pem, with_name.server.cert_pem);
        std::fs::remove_dir_all(&named).ok();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for key in ["ca-key.pem", "server-key.pem", "signing-key.pem"] {
                let mode = std::fs::metadata(dir.join(key))
                    .expect(key)
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o077, 0, "{key} is private");
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
