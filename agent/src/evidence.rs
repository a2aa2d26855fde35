//! The agent's side of the signed evidence (see [`sdgx_schemas::evidence`]): it signs each
//! publication with the key of its client certificate, checks the coordinator's signature of
//! the entry each acknowledgement carries, and remembers the newest entry it was acknowledged
//! (the outbox's `head.json`), so that a coordinator whose history no longer holds it is
//! reported as rolled back.

use sdgx_schemas::evidence::{self, ChainHead, KeySigner, PublicationSignature, Purpose, Trust};
use sdgx_schemas::flight::Ack;
use sdgx_schemas::Manifest;

use crate::config::TlsConfig;
use crate::error::{Error, Result};

/// The signature of `manifest`'s publication with the client key of `tls`, signed now; none
/// without TLS (a development coordinator over plaintext checks none).
pub fn sign(tls: Option<&TlsConfig>, manifest: &Manifest) -> Result<Option<PublicationSignature>> {
    let Some(tls) = tls else { return Ok(None) };
    let signer = KeySigner::from_pem_files(&tls.cert, &tls.key).map_err(|e| Error::Config(format!("the agency's signing key (tls.cert, tls.key): {e}")))?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Ok(Some(signer.sign_publication(manifest, &now)?))
}

/// Checks the entry `ack` carries: it is the acknowledged publication's, at the acknowledged
/// store version, and signed by the coordinator with a certificate of the CA of `tls` (for
/// document signing). Over TLS an acknowledgement without a signed entry is refused; over
/// plaintext (development) an unsigned one is accepted. Returns the head it proves.
pub fn check_ack(url: &str, tls: Option<&TlsConfig>, ack: &Ack) -> Result<Option<ChainHead>> {
    let bad = |m: String| Error::Evidence { url: url.to_owned(), message: m };
    let head = ack.head();
    let signature = ack.coordinator_signature();
    let entry = match (&ack.entry, &head, &signature, tls) {
        (Some(e), Some(_), Some(_), _) => e,
        (_, _, _, None) => return Ok(head),
        (None, ..) => return Err(bad("the acknowledgement carries no log entry".into())),
        (Some(_), None, ..) => return Err(bad("the acknowledgement's log entry names no store version and entry hash".into())),
        (Some(_), Some(_), None, Some(_)) => return Err(bad("the acknowledgement's log entry is not signed by the coordinator".into())),
    };
    let (head, signature) = (head.expect("matched"), signature.expect("matched"));
    let field = |k: &str| entry.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    if head.store_version != ack.store_version || field("publication_id") != ack.publication_id || field("content_hash") != ack.content_hash {
        return Err(bad(format!(
            "the acknowledgement's log entry is publication {} at store version {}, not the acknowledged {} at {}",
            field("publication_id"),
            head.store_version,
            ack.publication_id,
            ack.store_version
        )));
    }
    let certificate = evidence::certificate_of(&signature).map_err(&bad)?;
    let statement = evidence::entry_statement(head.store_version, &head.entry_hash)?;
    evidence::verify(&signature, &certificate, &statement).map_err(|w| bad(format!("the coordinator's signature of the entry: {w}")))?;
    if let Some(tls) = tls {
        let trust = Trust::from_pem_files(std::slice::from_ref(&tls.ca))?;
        trust
            .check(&certificate, &field("received_at"), Purpose::Coordinator)
            .map_err(|w| bad(format!("the coordinator's signing certificate: {w}")))?;
    }
    Ok(Some(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(entry: Option<serde_json::Value>) -> Ack {
        Ack { contract_version: "1".into(), publication_id: "p".into(), store_version: 2, duplicate: false, rows: 1, content_hash: "sha256:c".into(), entry }
    }

    #[test]
    fn an_unsigned_acknowledgement_is_accepted_only_over_plaintext() {
        let entry = serde_json::json!({"publication_id": "p", "content_hash": "sha256:c", "store_version": 2, "entry_hash": "sha256:e"});
        let head = check_ack("u", None, &ack(Some(entry.clone()))).unwrap().unwrap();
        assert_eq!(head, ChainHead { store_version: 2, entry_hash: "sha256:e".into() });
        let tls = TlsConfig { ca: "ca.pem".into(), cert: "c.pem".into(), key: "k.pem".into(), domain: None };
        let e = check_ack("u", Some(&tls), &ack(Some(entry))).unwrap_err().to_string();
        assert!(e.contains("not signed by the coordinator"), "{e}");
        assert!(check_ack("u", Some(&tls), &ack(None)).unwrap_err().to_string().contains("no log entry"));
    }
}
