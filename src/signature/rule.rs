//! eHealth's rule on a verifier's answer, with the organisation's seal: every layer's signature
//! valid, exactly one personal signer, and every seal around it the caller's legal entity's.

use super::{SignatureError, SignedEnvelope, VerifiedDocument};

/// A seal whose EDRPOU is not the caller's legal entity's (or the legal entity's EDRPOU is not
/// known): eHealth's text for a signature that does not belong to the legal entity.
pub const SEAL_EDRPOU_MISMATCH: &str = "Does not match the legal entity";

/// The signed document and its personal signer, or why not, checked in this order:
///
/// 1. at least one signature (else `document must be signed by 1 signer but contains 0
///    signatures`);
/// 2. every layer's signature valid, the outermost first (else that signature's message);
/// 3. exactly one personal signature. A lone signature is the signer whatever its certificate;
///    around it, layers whose certificate names an organisation and no person (an EDRPOU, no
///    DRFO) are seals and are not counted (else `… contains N signatures`, N the personal ones);
/// 4. each seal's EDRPOU is `legal_entity_edrpou` (else [`SEAL_EDRPOU_MISMATCH`]).
pub fn single_valid_signature(
    envelope: SignedEnvelope,
    legal_entity_edrpou: Option<&str>,
) -> Result<VerifiedDocument, SignatureError> {
    let SignedEnvelope {
        content,
        signatures,
    } = envelope;
    if signatures.is_empty() {
        return Err(SignatureError::SignerCount(0));
    }
    if let Some(invalid) = signatures.iter().find(|s| !s.is_valid) {
        return Err(SignatureError::Invalid(
            invalid
                .validation_error_message
                .clone()
                .unwrap_or_else(|| "signature is invalid".to_owned()),
        ));
    }
    let layered = signatures.len() > 1;
    let (seals, mut personal): (Vec<_>, Vec<_>) = signatures
        .into_iter()
        .map(|s| s.signer)
        .partition(|signer| layered && signer.is_seal());
    if personal.len() != 1 {
        return Err(SignatureError::SignerCount(personal.len()));
    }
    let expected = legal_entity_edrpou.map(compact);
    for seal in &seals {
        let sealed_by = seal.edrpou.as_deref().map(compact);
        if expected.is_none() || sealed_by != expected {
            return Err(SignatureError::Invalid(SEAL_EDRPOU_MISMATCH.to_owned()));
        }
    }
    Ok(VerifiedDocument {
        content,
        signer: personal.remove(0),
        seals,
    })
}

fn compact(value: &str) -> String {
    value.chars().filter(|c| !c.is_whitespace()).collect()
}
