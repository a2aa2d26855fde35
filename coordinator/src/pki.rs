//! A national certificate authority for agents, with `rcgen`.
//!
//! `sdgx-coordinator ca init --dir pki` writes `ca.pem`/`ca.key` (the national CA) and
//! `server.pem`/`server.key` (the coordinator's certificate, for the names given) and
//! `signing.pem`/`signing.key` (the coordinator's log-signing certificate, [`issue_signer`];
//! `ca issue-signer` adds it to an older CA directory);
//! `ca issue-agent --dir pki --agency <id>` writes `agents/<id>.pem`/`agents/<id>.key`.
//! Private keys are written with mode 0600 and never printed or logged.
//!
//! **The identity rule.** An agent certificate names its agency in exactly one Subject
//! Alternative Name URI of the form `sdgx:agency:<id>`, where `<id>` is the agency id of the
//! registry (`[a-z0-9][a-z0-9_-]*`). The common name is informative only. A certificate with
//! no such URI, or with two, identifies no agency. A country with its own PKI issues
//! certificates following the same rule and points `security.tls.client_ca` at its CA bundle.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};

/// The SAN URI prefix binding an agency id.
pub const AGENCY_URI_PREFIX: &str = "sdgx:agency:";

/// Making or signing a key or certificate failed: the coordinator's own failure.
fn pki_err(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("certificate authority: {e}"))
}

/// The CA's certificate or key in `path` could not be read as one.
fn ca_file_err(path: &Path) -> impl FnOnce(rcgen::Error) -> Error {
    let path = path.display().to_string();
    move |e| Error::Config(format!("certificate authority: {path}: {e}"))
}

fn write_private(path: &Path, pem: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(Error::io(path))?;
    f.write_all(pem.as_bytes()).map_err(Error::io(path))
}

fn write_public(path: &Path, pem: &str) -> Result<()> {
    std::fs::write(path, pem).map_err(Error::io(path))
}

/// The SHA-256 fingerprint (lowercase hex) of a DER certificate: the form revocation lists use.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The SHA-256 fingerprint of the first certificate in a PEM file.
pub fn fingerprint_pem(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&bytes).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    Ok(fingerprint(&pem.contents))
}

/// Creates the CA, the coordinator's server certificate and its signing certificate
/// ([`issue_signer`]) in `dir` (refuses to overwrite an
/// existing CA). `names` are the server's DNS names or IP addresses.
pub fn init(dir: &Path, names: &[String], days: i64) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    if dir.join("ca.key").exists() {
        return Err(Error::BadRequest(format!("{} already holds a CA; refusing to overwrite it", dir.display())));
    }
    let now = OffsetDateTime::now_utc();
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(pki_err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "sdgx national CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.not_before = now - Duration::days(1);
    ca.not_after = now + Duration::days(days.max(1) * 2);
    let ca_key = KeyPair::generate().map_err(pki_err)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(pki_err)?;
    write_private(&dir.join("ca.key"), &ca_key.serialize_pem())?;
    write_public(&dir.join("ca.pem"), &ca_cert.pem())?;
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(names.to_vec())
        .map_err(|e| Error::BadRequest(format!("server names {names:?}: {e}")))?;
    server.distinguished_name.push(DnType::CommonName, names.first().map_or("sdgx coordinator", |n| n.as_str()));
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.not_before = now - Duration::days(1);
    server.not_after = now + Duration::days(days.max(1));
    let key = KeyPair::generate().map_err(pki_err)?;
    let cert = server.signed_by(&key, &issuer).map_err(pki_err)?;
    write_private(&dir.join("server.key"), &key.serialize_pem())?;
    write_public(&dir.join("server.pem"), &cert.pem())?;
    issue_signer(dir, days).map(drop)
}

/// The CA of `dir` (`ca.pem`, `ca.key`), to issue with.
fn issuer(dir: &Path) -> Result<Issuer<'static, KeyPair>> {
    let ca_pem = std::fs::read_to_string(dir.join("ca.pem")).map_err(Error::io(dir.join("ca.pem")))?;
    let ca_key_pem = std::fs::read_to_string(dir.join("ca.key")).map_err(Error::io(dir.join("ca.key")))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(ca_file_err(&dir.join("ca.key")))?;
    Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(ca_file_err(&dir.join("ca.pem")))
}

/// The SAN URI of the coordinator's signing certificate.
pub const COORDINATOR_URI: &str = "sdgx:coordinator";

/// Issues the coordinator's log-signing certificate into `dir` (`signing.pem`, `signing.key`),
/// valid for `days`: extended key usage document signing (1.3.6.1.5.5.7.3.36, the one
/// [`sdgx_schemas::evidence::Purpose::Coordinator`] requires), key usages digital signature
/// and non-repudiation, SAN URI [`COORDINATOR_URI`]. Refuses to overwrite a signing key.
pub fn issue_signer(dir: &Path, days: i64) -> Result<(PathBuf, PathBuf)> {
    let (cert_path, key_path) = (dir.join("signing.pem"), dir.join("signing.key"));
    if key_path.exists() {
        return Err(Error::BadRequest(format!("{} exists; remove it to issue a new signing certificate", key_path.display())));
    }
    let issuer = issuer(dir)?;
    let now = OffsetDateTime::now_utc();
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(pki_err)?;
    p.distinguished_name.push(DnType::CommonName, "sdgx coordinator log signing");
    p.subject_alt_names = vec![SanType::URI(COORDINATOR_URI.try_into().map_err(pki_err)?)];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 36])];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::ContentCommitment];
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(days.max(1));
    let key = KeyPair::generate().map_err(pki_err)?;
    let cert = p.signed_by(&key, &issuer).map_err(pki_err)?;
    write_private(&key_path, &key.serialize_pem())?;
    write_public(&cert_path, &cert.pem())?;
    Ok((cert_path, key_path))
}

/// Issues a client certificate for `agency`, valid from `not_before` to `not_after`, into
/// `dir/agents/`; returns the certificate and key paths.
pub fn issue_agent_between(dir: &Path, agency: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<(PathBuf, PathBuf)> {
    if !sdgx_schemas::manifest::valid_id(agency) {
        return Err(Error::BadRequest(format!("agency id {agency:?} is not valid (a-z, 0-9, '-', '_')")));
    }
    let issuer = issuer(dir)?;
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(pki_err)?;
    p.distinguished_name.push(DnType::CommonName, format!("sdgx agent {agency}"));
    let uri = format!("{AGENCY_URI_PREFIX}{agency}");
    p.subject_alt_names = vec![SanType::URI(uri.try_into().map_err(pki_err)?)];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = not_before;
    p.not_after = not_after;
    let key = KeyPair::generate().map_err(pki_err)?;
    let cert = p.signed_by(&key, &issuer).map_err(pki_err)?;
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents).map_err(Error::io(&agents))?;
    let (cert_path, key_path) = (agents.join(format!("{agency}.pem")), agents.join(format!("{agency}.key")));
    if key_path.exists() {
        return Err(Error::BadRequest(format!("{} exists; remove it to issue a new certificate", key_path.display())));
    }
    write_private(&key_path, &key.serialize_pem())?;
    write_public(&cert_path, &cert.pem())?;
    Ok((cert_path, key_path))
}

/// Issues a client certificate for `agency` valid for `days` from now.
pub fn issue_agent(dir: &Path, agency: &str, days: i64) -> Result<(PathBuf, PathBuf)> {
    let now = OffsetDateTime::now_utc();
    issue_agent_between(dir, agency, now - Duration::days(1), now + Duration::days(days.max(1)))
}

/// The agency a client certificate (DER, leaf first) identifies, under the identity rule;
/// refused when its fingerprint is in `revoked`.
pub fn agency_of(der: &[u8], revoked: &[String]) -> std::result::Result<String, String> {
    let fp = fingerprint(der);
    if revoked.iter().any(|r| r.eq_ignore_ascii_case(&fp)) {
        return Err(format!("the client certificate {fp} is revoked"));
    }
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| format!("unreadable client certificate: {e}"))?;
    let san = cert.subject_alternative_name().map_err(|e| format!("bad subjectAltName: {e}"))?;
    let ids: Vec<&str> = san
        .iter()
        .flat_map(|s| s.value.general_names.iter())
        .filter_map(|g| match g {
            x509_parser::extensions::GeneralName::URI(u) => u.strip_prefix(AGENCY_URI_PREFIX),
            _ => None,
        })
        .collect();
    match ids.as_slice() {
        [id] if sdgx_schemas::manifest::valid_id(id) => Ok((*id).to_owned()),
        [] => Err(format!("the client certificate {fp} names no agency (no SAN URI {AGENCY_URI_PREFIX}<id>)")),
        _ => Err(format!("the client certificate {fp} must name exactly one valid agency")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(pem_path: &Path) -> Vec<u8> {
        let pem = std::fs::read(pem_path).unwrap();
        x509_parser::pem::parse_x509_pem(&pem).unwrap().1.contents
    }

    #[test]
    fn issued_certificates_bind_the_agency_and_can_be_revoked() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), &["localhost".into(), "127.0.0.1".into()], 30).unwrap();
        assert!(init(dir.path(), &["localhost".into()], 30).is_err(), "never overwrites a CA");
        let (cert, key) = issue_agent(dir.path(), "sms", 30).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        let d = der(&cert);
        assert_eq!(fingerprint_pem(&cert).unwrap(), fingerprint(&d));
        assert_eq!(agency_of(&d, &[]).unwrap(), "sms");
        let err = agency_of(&d, &[fingerprint(&d).to_uppercase()]).unwrap_err();
        assert!(err.contains("revoked"), "{err}");
        assert!(agency_of(&der(&dir.path().join("server.pem")), &[]).unwrap_err().contains("names no agency"));
        assert!(issue_agent(dir.path(), "Not Valid", 30).is_err());
    }

    #[test]
    fn signatures_verify_against_the_issued_certificates_for_their_purpose_only() {
        use sdgx_schemas::evidence::{entry_statement, verify, KeySigner, Purpose, Trust};
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), &["localhost".into()], 30).unwrap();
        assert!(issue_signer(dir.path(), 30).is_err(), "never overwrites a signing key");
        let (cert, key) = issue_agent(dir.path(), "sms", 30).unwrap();
        let agency = KeySigner::from_pem_files(&cert, &key).unwrap();
        let coordinator = KeySigner::from_pem_files(&dir.path().join("signing.pem"), &dir.path().join("signing.key")).unwrap();
        let msg = entry_statement(3, "sha256:ab").unwrap();
        let sig = coordinator.sign(&msg).unwrap();
        assert_eq!(sig.algorithm, "ecdsa-p256-sha256", "rcgen issues P-256 keys");
        verify(&sig, coordinator.certificate(), &msg).unwrap();
        let err = verify(&sig, coordinator.certificate(), &entry_statement(4, "sha256:ab").unwrap()).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        assert!(verify(&sig, agency.certificate(), &msg).is_err(), "another key's certificate");
        let trust = Trust::from_pem_files(&[dir.path().join("ca.pem")]).unwrap();
        let now = "2030-01-01T00:00:00Z";
        let today = chrono::Utc::now().to_rfc3339();
        trust.check(coordinator.certificate(), &today, Purpose::Coordinator).unwrap();
        trust.check(agency.certificate(), &today, Purpose::Agency).unwrap();
        assert!(trust.check(agency.certificate(), &today, Purpose::Coordinator).is_err(), "an agency's certificate signs no log entry");
        assert!(trust.check(coordinator.certificate(), &today, Purpose::Agency).is_err());
        assert!(trust.check(agency.certificate(), now, Purpose::Agency).unwrap_err().contains("does not chain"), "expired by then");
        let other = tempfile::tempdir().unwrap();
        init(other.path(), &["localhost".into()], 30).unwrap();
        let foreign = Trust::from_pem_files(&[other.path().join("ca.pem")]).unwrap();
        assert!(foreign.check(agency.certificate(), &today, Purpose::Agency).is_err(), "another CA");
    }
}
