//! Signed evidence: what an agency signs when it publishes, what the coordinator signs for each
//! entry of its log, byte for byte, and how either signature is made and checked.
//!
//! - **An agency's signature** (sent in the publication's [`crate::flight::PublishCommand`],
//!   kept in the log entry with the agency's certificate) is made with the private key of the
//!   agency's mutual-TLS client certificate over [`publication_statement`]: the agency, the
//!   dataset, the content hash, the [`manifest_hash`] and the signing time.
//! - **The coordinator's signature** (in every log entry, publication or sign-off decision) is
//!   made with the coordinator's own signing key, whose certificate the national CA issues with
//!   the extended key usage *document signing* ([`DOCUMENT_SIGNING_EKU`]), over
//!   [`entry_statement`]: the store version the entry's commit creates and the entry's hash.
//!
//! Schemes are the standard ones of the key's type ([`ALGORITHMS`]): ECDSA P-256 with SHA-256
//! (what `sdgx-coordinator ca` issues), ECDSA P-384 with SHA-384, Ed25519 and RSA-PSS with
//! SHA-256; signatures are encoded as in X.509 (ECDSA: ASN.1 DER `Ecdsa-Sig-Value`) and carried
//! in base64 (standard alphabet, padded), certificates as base64 of their DER.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use rustls::SignatureScheme;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// The first line of a publication statement.
pub const PUBLICATION_TAG: &str = "sdgx-publication-v1";

/// The first line of a log-entry statement.
pub const ENTRY_TAG: &str = "sdgx-log-entry-v1";

/// The DER content of the OID 1.3.6.1.5.5.7.3.36 (`id-kp-documentSigning`, RFC 9336): the
/// extended key usage a coordinator's signing certificate must carry.
pub const DOCUMENT_SIGNING_EKU: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x24];

/// The DER content of the OID 1.3.6.1.5.5.7.3.2 (`id-kp-clientAuth`): an agency's certificate
/// authenticates its agent and signs its publications.
pub const CLIENT_AUTH_EKU: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// The signature algorithms, by the name a [`Signature`] carries.
pub const ALGORITHMS: [&str; 4] = ["ecdsa-p256-sha256", "ecdsa-p384-sha384", "ed25519", "rsa-pss-sha256"];

/// A signature and, once stored, the certificate of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// One of [`ALGORITHMS`].
    pub algorithm: String,
    /// The signature, base64.
    pub value: String,
    /// The signer's certificate, base64 of its DER (the agent does not send it: the
    /// coordinator records the certificate the agent authenticated with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// An agency's signature of a publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublicationSignature {
    /// When the agency signed (RFC 3339, UTC), as the statement says.
    pub signed_at: String,
    /// The signature of [`publication_statement`].
    pub signature: Signature,
}

/// The head of the log an agent saw: the store version and entry hash of an entry the
/// coordinator signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    /// The store version of the entry's commit.
    pub store_version: i64,
    /// Its `entry_hash`.
    pub entry_hash: String,
}

/// Appends the canonical JSON of `v` to `out`: object keys sorted (by their UTF-8 bytes) at
/// every level, no whitespace, strings and numbers as serde_json writes them.
pub fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `sha256:<hex>` of the manifest's canonical JSON (see [`canonical_json`]), its
/// `content_hash` included.
pub fn manifest_hash(m: &Manifest) -> String {
    let mut s = String::new();
    canonical_json(&serde_json::to_value(m).expect("a manifest serialises"), &mut s);
    format!("sha256:{}", hex::encode(Sha256::digest(s.as_bytes())))
}

fn line(out: &mut Vec<u8>, name: &str, value: &str) -> Result<()> {
    if value.contains(['\n', '\r']) {
        return Err(Error::Evidence(format!("the {name} {value:?} contains a line break and cannot be signed")));
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
    Ok(())
}

/// The bytes an agency signs for a publication: UTF-8 lines, each ending in `\n`:
/// `sdgx-publication-v1`, `agency: <id>`, `dataset: <id>`, `content_hash: sha256:<hex>`,
/// `manifest_hash: sha256:<hex>`, `signed_at: <RFC 3339>`.
pub fn publication_statement(agency: &str, dataset: &str, content_hash: &str, manifest_hash: &str, signed_at: &str) -> Result<Vec<u8>> {
    let mut out = format!("{PUBLICATION_TAG}\n").into_bytes();
    line(&mut out, "agency", agency)?;
    line(&mut out, "dataset", dataset)?;
    line(&mut out, "content_hash", content_hash)?;
    line(&mut out, "manifest_hash", manifest_hash)?;
    line(&mut out, "signed_at", signed_at)?;
    Ok(out)
}

/// The statement of `manifest` (its agency, dataset and content hash) signed at `signed_at`.
pub fn statement_of(manifest: &Manifest, signed_at: &str) -> Result<Vec<u8>> {
    let content = manifest
        .content_hash
        .as_deref()
        .ok_or_else(|| Error::Evidence(format!("agency {} dataset {}: the manifest has no content hash to sign", manifest.agency, manifest.dataset)))?;
    publication_statement(&manifest.agency, &manifest.dataset, content, &manifest_hash(manifest), signed_at)
}

/// The bytes the coordinator signs for a log entry: `sdgx-log-entry-v1`,
/// `store_version: <decimal>`, `entry_hash: sha256:<hex>`, each line ending in `\n`.
pub fn entry_statement(store_version: i64, entry_hash: &str) -> Result<Vec<u8>> {
    let mut out = format!("{ENTRY_TAG}\n").into_bytes();
    line(&mut out, "store_version", &store_version.to_string())?;
    line(&mut out, "entry_hash", entry_hash)?;
    Ok(out)
}

fn scheme_name(s: SignatureScheme) -> Option<&'static str> {
    Some(match s {
        SignatureScheme::ECDSA_NISTP256_SHA256 => ALGORITHMS[0],
        SignatureScheme::ECDSA_NISTP384_SHA384 => ALGORITHMS[1],
        SignatureScheme::ED25519 => ALGORITHMS[2],
        SignatureScheme::RSA_PSS_SHA256 => ALGORITHMS[3],
        _ => return None,
    })
}

fn verifier(name: &str) -> Option<&'static dyn SignatureVerificationAlgorithm> {
    Some(match name {
        "ecdsa-p256-sha256" => webpki::ring::ECDSA_P256_SHA256,
        "ecdsa-p384-sha384" => webpki::ring::ECDSA_P384_SHA384,
        "ed25519" => webpki::ring::ED25519,
        "rsa-pss-sha256" => webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        _ => return None,
    })
}

/// Base64 (standard, padded) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unbase64(what: &str, s: &str) -> std::result::Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("the {what} is not base64: {e}"))
}

/// A private key and its certificate, which signs (an agency's client key, or the
/// coordinator's signing key).
pub struct KeySigner {
    key: Arc<dyn rustls::sign::SigningKey>,
    certificate: Vec<u8>,
}

impl std::fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySigner").field("algorithm", &self.key.algorithm()).finish_non_exhaustive()
    }
}

impl KeySigner {
    /// The key in `key` (PEM: PKCS#8, SEC1 or PKCS#1) with the first certificate of `cert`
    /// (PEM). Fails, naming the file, when either cannot be read or the key's type signs with
    /// none of [`ALGORITHMS`].
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<KeySigner> {
        let bad = |p: &Path, why: String| Error::Evidence(format!("{}: {why}", p.display()));
        let certificate = CertificateDer::pem_file_iter(cert)
            .map_err(|e| bad(cert, e.to_string()))?
            .next()
            .ok_or_else(|| bad(cert, "holds no certificate".into()))?
            .map_err(|e| bad(cert, e.to_string()))?;
        let der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, format!("holds no readable private key: {e}")))?;
        let key_pair = rustls::crypto::ring::sign::any_supported_type(&der).map_err(|e| bad(key, e.to_string()))?;
        let signer = KeySigner { key: key_pair, certificate: certificate.to_vec() };
        // A key of an unsupported type fails here, not at the first publication.
        signer.sign(b"probe").map_err(|e| bad(key, e.to_string()))?;
        Ok(signer)
    }

    /// The certificate (DER).
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    /// Signs `message`; the signature carries the certificate.
    pub fn sign(&self, message: &[u8]) -> Result<Signature> {
        let offered = [SignatureScheme::ECDSA_NISTP256_SHA256, SignatureScheme::ECDSA_NISTP384_SHA384, SignatureScheme::ED25519, SignatureScheme::RSA_PSS_SHA256];
        let signer = self
            .key
            .choose_scheme(&offered)
            .ok_or_else(|| Error::Evidence(format!("a {:?} key signs with none of {}", self.key.algorithm(), ALGORITHMS.join(", "))))?;
        let algorithm = scheme_name(signer.scheme()).expect("one of the offered schemes");
        let value = signer.sign(message).map_err(|e| Error::Evidence(format!("signing failed: {e}")))?;
        Ok(Signature { algorithm: algorithm.into(), value: base64(&value), certificate: Some(base64(&self.certificate)) })
    }

    /// An agency's signature of `manifest`'s publication, at `signed_at` (sent without the
    /// certificate: the coordinator records the one of the connection).
    pub fn sign_publication(&self, manifest: &Manifest, signed_at: &str) -> Result<PublicationSignature> {
        let mut signature = self.sign(&statement_of(manifest, signed_at)?)?;
        signature.certificate = None;
        Ok(PublicationSignature { signed_at: signed_at.to_owned(), signature })
    }
}

/// Checks that `signature` is `certificate`'s (DER) over `message`. The error says why not.
pub fn verify(signature: &Signature, certificate: &[u8], message: &[u8]) -> std::result::Result<(), String> {
    let alg = verifier(&signature.algorithm)
        .ok_or_else(|| format!("unknown signature algorithm {:?} (known: {})", signature.algorithm, ALGORITHMS.join(", ")))?;
    let value = unbase64("signature", &signature.value)?;
    let der = CertificateDer::from(certificate);
    let ee = webpki::EndEntityCert::try_from(&der).map_err(|e| format!("the certificate is unreadable: {e}"))?;
    ee.verify_signature(alg, message, &value)
        .map_err(|e| format!("the {} signature does not verify against the certificate's key: {e}", signature.algorithm))
}

/// The certificate a stored signature carries (DER).
pub fn certificate_of(signature: &Signature) -> std::result::Result<Vec<u8>, String> {
    let c = signature.certificate.as_deref().ok_or("the signature carries no certificate")?;
    unbase64("certificate", c)
}

/// The trust anchors certificates are checked against: the CA certificate(s).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    anchors: Vec<TrustAnchor<'static>>,
    files: Vec<PathBuf>,
}

/// What a certificate is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// An agency's client certificate (extended key usage client authentication).
    Agency,
    /// The coordinator's signing certificate (extended key usage document signing).
    Coordinator,
}

impl Trust {
    /// Every certificate of the PEM files `files` is a trust anchor.
    pub fn from_pem_files(files: &[PathBuf]) -> Result<Trust> {
        let mut anchors = Vec::new();
        for f in files {
            let bad = |why: String| Error::Evidence(format!("{}: {why}", f.display()));
            let before = anchors.len();
            for c in CertificateDer::pem_file_iter(f).map_err(|e| bad(e.to_string()))? {
                let c = c.map_err(|e| bad(e.to_string()))?;
                anchors.push(webpki::anchor_from_trusted_cert(&c).map_err(|e| bad(format!("not a CA certificate: {e}")))?.to_owned());
            }
            if anchors.len() == before {
                return Err(bad("holds no certificate".into()));
            }
        }
        Ok(Trust { anchors, files: files.to_vec() })
    }

    /// Whether no anchor is known (certificates then cannot be checked).
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// The CA files the anchors were read from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Checks that `certificate` (DER) chains to an anchor, was valid at `at` (RFC 3339) and
    /// carries the extended key usage of `purpose`.
    pub fn check(&self, certificate: &[u8], at: &str, purpose: Purpose) -> std::result::Result<(), String> {
        let t = chrono::DateTime::parse_from_rfc3339(at).map_err(|e| format!("the time {at:?} is not RFC 3339: {e}"))?;
        let secs = u64::try_from(t.timestamp()).map_err(|_| format!("the time {at} is before 1970"))?;
        let der = CertificateDer::from(certificate);
        let ee = webpki::EndEntityCert::try_from(&der).map_err(|e| format!("the certificate is unreadable: {e}"))?;
        let usage = match purpose {
            Purpose::Agency => webpki::KeyUsage::required(CLIENT_AUTH_EKU),
            Purpose::Coordinator => webpki::KeyUsage::required(DOCUMENT_SIGNING_EKU),
        };
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &[],
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs)),
            usage,
            None,
            None,
        )
        .map(drop)
        .map_err(|e| {
            let files: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
            format!("the certificate does not chain to the CA ({}) for {} at {at}: {e}", files.join(", "), match purpose {
                Purpose::Agency => "client authentication",
                Purpose::Coordinator => "document signing",
            })
        })
    }
}

/// Checks an agency's signature of the publication of `content_hash` under `manifest` by
/// `agency`'s `dataset` against `certificate` (DER).
pub fn verify_publication(
    sig: &PublicationSignature,
    certificate: &[u8],
    agency: &str,
    dataset: &str,
    content_hash: &str,
    manifest: &Manifest,
) -> std::result::Result<(), String> {
    chrono::DateTime::parse_from_rfc3339(&sig.signed_at).map_err(|e| format!("signed_at {:?} is not RFC 3339: {e}", sig.signed_at))?;
    let statement = publication_statement(agency, dataset, content_hash, &manifest_hash(manifest), &sig.signed_at).map_err(|e| e.to_string())?;
    verify(&sig.signature, certificate, &statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let mut m = Manifest::from_toml(
            "agency = \"a\"\ndataset = \"d\"\ntitle = \"t\"\nindicators = []\nperiodicity = \"A\"\n[reference_period]\nstart = \"2020\"\nend = \"2020\"\n",
        )
        .unwrap();
        m.content_hash = Some("sha256:00".into());
        m
    }

    #[test]
    fn statements_are_the_documented_bytes() {
        assert_eq!(
            publication_statement("a", "d", "sha256:01", "sha256:02", "2026-01-01T00:00:00.000Z").unwrap(),
            b"sdgx-publication-v1\nagency: a\ndataset: d\ncontent_hash: sha256:01\nmanifest_hash: sha256:02\nsigned_at: 2026-01-01T00:00:00.000Z\n"
        );
        assert_eq!(entry_statement(7, "sha256:03").unwrap(), b"sdgx-log-entry-v1\nstore_version: 7\nentry_hash: sha256:03\n");
        assert!(publication_statement("a", "d\nagency: b", "h", "m", "t").is_err(), "no field can add a line");
        let m = manifest();
        let mut other = m.clone();
        other.title = "u".into();
        assert_ne!(manifest_hash(&m), manifest_hash(&other));
        assert_eq!(manifest_hash(&m), manifest_hash(&serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap()));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut s = String::new();
        canonical_json(&serde_json::json!({"b": [{"z": 1, "a": "x"}], "a": null}), &mut s);
        assert_eq!(s, r#"{"a":null,"b":[{"a":"x","z":1}]}"#);
    }
}
