//! Who signed: the identity a Ukrainian qualified certificate carries in its subject. The DRFO is
//! the `serialNumber` (`TINUA-<number>`), the EDRPOU of the organisation the signer signs for is
//! the `organizationIdentifier` (`NTRUA-<code>`).

use ehealth_aggregates::drfo::Drfo;
use openssl::asn1::Asn1Object;
use openssl::nid::Nid;
use openssl::x509::X509Ref;

use super::Signer;

/// `organizationIdentifier` (X.520), which not every OpenSSL names.
const ORGANIZATION_IDENTIFIER: &str = "2.5.4.97";

/// The signer's identity from its certificate.
pub(super) fn identity(cert: &X509Ref) -> Signer {
    let organization_identifier = Asn1Object::from_str(ORGANIZATION_IDENTIFIER)
        .ok()
        .and_then(|oid| subject_entry(cert, oid.nid()));
    Signer {
        drfo: subject_entry(cert, Nid::SERIALNUMBER).and_then(|s| Drfo::parse(&s)),
        edrpou: organization_identifier.and_then(|s| edrpou(&s)),
        common_name: subject_entry(cert, Nid::COMMONNAME),
        given_name: subject_entry(cert, Nid::GIVENNAME),
        surname: subject_entry(cert, Nid::SURNAME),
        organization_name: subject_entry(cert, Nid::ORGANIZATIONNAME),
    }
}

fn subject_entry(cert: &X509Ref, nid: Nid) -> Option<String> {
    let entry = cert.subject_name().entries_by_nid(nid).next()?;
    entry.data().to_string().ok()
}

/// The EDRPOU of an `organizationIdentifier`: a leading `NTRUA-` (in any case) and spaces
/// dropped; `None` when nothing is left.
pub(super) fn edrpou(raw: &str) -> Option<String> {
    const PREFIX: &str = "NTRUA-";
    let trimmed = raw.trim_start();
    let rest = match trimmed.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => &trimmed[PREFIX.len()..],
        _ => trimmed,
    };
    let code: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    (!code.is_empty()).then_some(code)
}
