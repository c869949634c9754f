//! Who signed: names from the subject, DRFO and EDRPOU from the Ukrainian attributes.
//!
//! The DRFO (РНОКПП, or the passport / ID-card number of a person without one) is taken from the
//! `subjectDirectoryAttributes` extension (attribute 1.2.804.2.1.1.1.11.1.4.1.1) first, then from
//! the subject `serialNumber` in the ETSI EN 319 412-1 form (`TINUA-…`, `PASUA-…`, `IDCUA-…`) or
//! as ten bare digits. The EDRPOU likewise from attribute 1.2.804.2.1.1.1.11.1.4.2.1, then from
//! `organizationIdentifier` `NTRUA-…`. Two sources that disagree are a refusal.

use der::asn1::ObjectIdentifier as Oid;
use der::{Any, Decode, Tag, Tagged};
use x509_cert::attr::Attribute;
use x509_cert::name::Name;

use crate::certificate::{ext, Certificate};
use crate::error::Refusal;

const CN: Oid = Oid::new_unwrap("2.5.4.3");
const SURNAME: Oid = Oid::new_unwrap("2.5.4.4");
const SERIAL_NUMBER: Oid = Oid::new_unwrap("2.5.4.5");
const COUNTRY: Oid = Oid::new_unwrap("2.5.4.6");
const LOCALITY: Oid = Oid::new_unwrap("2.5.4.7");
const STATE: Oid = Oid::new_unwrap("2.5.4.8");
const ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
const ORGANIZATIONAL_UNIT: Oid = Oid::new_unwrap("2.5.4.11");
const TITLE: Oid = Oid::new_unwrap("2.5.4.12");
const GIVEN_NAME: Oid = Oid::new_unwrap("2.5.4.42");
const ORGANIZATION_IDENTIFIER: Oid = Oid::new_unwrap("2.5.4.97");
/// DRFO (РНОКПП) in subjectDirectoryAttributes.
pub const DRFO_ATTRIBUTE: Oid = Oid::new_unwrap("1.2.804.2.1.1.1.11.1.4.1.1");
/// EDRPOU in subjectDirectoryAttributes.
pub const EDRPOU_ATTRIBUTE: Oid = Oid::new_unwrap("1.2.804.2.1.1.1.11.1.4.2.1");

/// The signer as eHealth's signature service describes it. Absent values are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signer {
    /// Tax number (or passport / ID-card number), whitespace removed.
    pub drfo: Option<String>,
    /// The organisation's EDRPOU.
    pub edrpou: Option<String>,
    /// `givenName` (Ukrainian certificates put the patronymic here too).
    pub given_name: Option<String>,
    /// `surname`.
    pub surname: Option<String>,
    /// `commonName`.
    pub common_name: Option<String>,
    /// `organizationName`.
    pub organization_name: Option<String>,
    /// `organizationalUnitName`.
    pub organizational_unit_name: Option<String>,
    /// `title`.
    pub title: Option<String>,
    /// `countryName`.
    pub country_name: Option<String>,
    /// `localityName`.
    pub locality_name: Option<String>,
    /// `stateOrProvinceName`.
    pub state_or_province_name: Option<String>,
    /// The subject `serialNumber` as written.
    pub subject_serial_number: Option<String>,
    /// The certificate's serial number, upper-case hex.
    pub certificate_serial: String,
    /// The issuer's `commonName`.
    pub issuer_common_name: Option<String>,
}

/// Whether two DRFO name the same person; the service passes eHealth's look-alike rule
/// (`ehealth_aggregates::drfo::drfo_matches`). [`exact_drfo_match`] is the default.
pub type DrfoMatcher = fn(&str, &str) -> bool;

/// Equal after removing whitespace and upper-casing.
pub fn exact_drfo_match(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect()
    };
    !a.is_empty() && norm(a) == norm(b)
}

/// The signer of `certificate`; a refusal when its DRFO or EDRPOU sources disagree (the
/// conflicting value is then left out).
pub fn signer_of(certificate: &Certificate, same_drfo: DrfoMatcher) -> (Signer, Option<Refusal>) {
    let subject = certificate.subject();
    let directory = directory_attributes(certificate);
    let serial_number = first(subject, SERIAL_NUMBER);
    let mut refusal = None;

    let drfo_attribute = directory_value(&directory, DRFO_ATTRIBUTE);
    let drfo_subject = serial_number.as_deref().and_then(drfo_from_serial_number);
    let drfo = match (drfo_attribute, drfo_subject) {
        (Some(a), Some(s)) if !same_drfo(&a, &s) => {
            refusal = Some(Refusal::DrfoConflict);
            None
        }
        (Some(a), _) => Some(a),
        (None, s) => s,
    };

    let edrpou_attribute = directory_value(&directory, EDRPOU_ATTRIBUTE);
    let edrpou_subject = first(subject, ORGANIZATION_IDENTIFIER)
        .as_deref()
        .and_then(|v| strip_prefix(v, "NTRUA-"));
    let edrpou = match (edrpou_attribute, edrpou_subject) {
        (Some(a), Some(s)) if a != s => {
            refusal.get_or_insert(Refusal::EdrpouConflict);
            None
        }
        (Some(a), _) => Some(a),
        (None, s) => s,
    };

    let signer = Signer {
        drfo,
        edrpou,
        given_name: first(subject, GIVEN_NAME),
        surname: first(subject, SURNAME),
        common_name: first(subject, CN),
        organization_name: first(subject, ORGANIZATION),
        organizational_unit_name: first(subject, ORGANIZATIONAL_UNIT),
        title: first(subject, TITLE),
        country_name: first(subject, COUNTRY),
        locality_name: first(subject, LOCALITY),
        state_or_province_name: first(subject, STATE),
        subject_serial_number: serial_number,
        certificate_serial: certificate
            .serial()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect(),
        issuer_common_name: first(certificate.issuer(), CN),
    };
    (signer, refusal)
}

/// The DRFO a subject `serialNumber` gives: `TINUA-n`, `PASUA-…`, `IDCUA-…`, or ten bare digits
/// (anything else, e.g. a CA's internal number, is not a DRFO).
pub fn drfo_from_serial_number(value: &str) -> Option<String> {
    for prefix in ["TINUA-", "PASUA-", "IDCUA-"] {
        if let Some(rest) = strip_prefix(value, prefix) {
            return Some(rest);
        }
    }
    let bare = compact(value);
    (bare.len() == 10 && bare.bytes().all(|b| b.is_ascii_digit())).then_some(bare)
}

fn strip_prefix(value: &str, prefix: &str) -> Option<String> {
    let value = value.trim();
    let head = value.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = compact(&value[prefix.len()..]);
    (!rest.is_empty()).then_some(rest)
}

fn compact(value: &str) -> String {
    value.chars().filter(|c| !c.is_whitespace()).collect()
}

fn directory_attributes(certificate: &Certificate) -> Vec<Attribute> {
    certificate
        .extension(ext::SUBJECT_DIRECTORY_ATTRIBUTES)
        .and_then(|e| Vec::<Attribute>::from_der(e.extn_value.as_bytes()).ok())
        .unwrap_or_default()
}

fn directory_value(attributes: &[Attribute], oid: Oid) -> Option<String> {
    let attribute = attributes.iter().find(|a| a.oid == oid)?;
    let value = compact(&text(attribute.values.iter().next()?)?);
    (!value.is_empty()).then_some(value)
}

/// The first value of attribute `oid` in `name`, as text.
pub(crate) fn first(name: &Name, oid: Oid) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == oid)
        .and_then(|atv| text(&atv.value))
}

/// A directory string of any of the ASN.1 string types certificates use.
fn text(value: &Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            String::from_utf8(bytes.to_vec()).ok()
        }
        // T.61 as Latin-1: what the few certificates that use it mean.
        Tag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            (bytes.len() % 2 == 0)
                .then(|| String::from_utf16(&units).ok())
                .flatten()
        }
        _ => None,
    }
}
