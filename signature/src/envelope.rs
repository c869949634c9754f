//! Reading a CMS SignedData as received: base64, the ContentInfo, and the raw parts that are
//! hashed or matched (the content, each certificate, each SignerInfo with its signed attributes).

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo};
use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode, Tag};

use crate::certificate::{same_name, trimmed, Certificate};
use crate::error::EnvelopeError;
use crate::tlv;

pub(crate) const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
pub(crate) const ID_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
pub(crate) const ID_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
pub(crate) const ID_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
pub(crate) const ID_SIGNATURE_TIMESTAMP: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.14");
pub(crate) const ID_CONTENT_TIMESTAMP: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.20");

/// Base64 as clients send it: the standard alphabet, padding optional, whitespace ignored.
pub fn decode_base64(input: &str) -> Result<Vec<u8>, EnvelopeError> {
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: Vec<u8> = input.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let der = ENGINE
        .decode(&compact)
        .map_err(|_| EnvelopeError::NotBase64)?;
    if der.is_empty() {
        return Err(EnvelopeError::Malformed);
    }
    Ok(der)
}

/// A SignerInfo, decoded, with the bytes that are hashed.
#[derive(Debug)]
pub(crate) struct RawSignerInfo {
    pub info: SignerInfo,
    /// The signed attributes as received with the SET OF tag, when there are any.
    pub signed_attributes: Option<Vec<u8>>,
}

/// The parts of a SignedData.
#[derive(Debug)]
pub(crate) struct SignedData {
    pub content_type: Oid,
    pub content: Option<Vec<u8>>,
    pub certificates: Vec<Certificate>,
    /// Some certificate in the envelope could not be decoded.
    pub unreadable_certificates: bool,
    /// Each SignerInfo: decoded, or `None` when it cannot be.
    pub signer_infos: Vec<Option<RawSignerInfo>>,
}

/// Whether `bytes` are a ContentInfo holding a SignedData (a nested envelope).
pub(crate) fn is_signed_data(bytes: &[u8]) -> bool {
    content_info(bytes).is_some()
}

fn content_info(bytes: &[u8]) -> Option<&[u8]> {
    let outer = tlv::single(bytes)?;
    if outer.tag != Tag::Sequence {
        return None;
    }
    let parts = tlv::children(outer.content)?;
    let [oid, explicit] = parts.as_slice() else {
        return None;
    };
    if Oid::from_der(oid.raw).ok()? != ID_SIGNED_DATA || explicit.raw.first() != Some(&0xA0) {
        return None;
    }
    let signed_data = tlv::single(explicit.content)?;
    (signed_data.tag == Tag::Sequence).then_some(signed_data.content)
}

/// Parses a DER ContentInfo holding a SignedData.
pub(crate) fn parse(bytes: &[u8]) -> Result<SignedData, EnvelopeError> {
    let malformed = || EnvelopeError::Malformed;
    let fields = tlv::children(content_info(bytes).ok_or_else(malformed)?).ok_or_else(malformed)?;
    // version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos
    if fields.len() < 4 || fields[0].tag != Tag::Integer || fields[1].tag != Tag::Set {
        return Err(malformed());
    }
    let encap = EncapsulatedContentInfo::from_der(fields[2].raw).map_err(|_| malformed())?;
    let content = match &encap.econtent {
        None => None,
        Some(any) => {
            let octets = der::asn1::OctetString::from_der(&any.to_der().map_err(|_| malformed())?)
                .map_err(|_| malformed())?;
            Some(octets.into_bytes())
        }
    };
    let signer_infos = fields[fields.len() - 1];
    if signer_infos.tag != Tag::Set {
        return Err(malformed());
    }
    let mut certificates = Vec::new();
    let mut unreadable_certificates = false;
    for field in &fields[3..fields.len() - 1] {
        match field.raw.first() {
            Some(0xA0) => {
                for choice in tlv::children(field.content).ok_or_else(malformed)? {
                    // Only X.509 certificates; attribute certificates and others are skipped.
                    if choice.tag == Tag::Sequence {
                        match Certificate::from_der(choice.raw) {
                            Ok(cert) => certificates.push(cert),
                            Err(_) => unreadable_certificates = true,
                        }
                    }
                }
            }
            Some(0xA1) => {}
            _ => return Err(malformed()),
        }
    }
    let signer_infos = tlv::children(signer_infos.content)
        .ok_or_else(malformed)?
        .into_iter()
        .map(|raw| {
            let info = SignerInfo::from_der(raw.raw).ok()?;
            let signed_attributes = tlv::signed_attributes_for_digest(raw.raw);
            if info.signed_attrs.is_some() != signed_attributes.is_some() {
                return None;
            }
            Some(RawSignerInfo {
                info,
                signed_attributes,
            })
        })
        .collect();
    Ok(SignedData {
        content_type: encap.econtent_type,
        content,
        certificates,
        unreadable_certificates,
        signer_infos,
    })
}

/// Whether `certificate` is the one `sid` names.
pub(crate) fn identifies(sid: &SignerIdentifier, certificate: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            same_name(&id.issuer, certificate.issuer())
                && trimmed(id.serial_number.as_bytes()) == trimmed(certificate.serial())
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            certificate.subject_key_id().as_deref() == Some(ski.0.as_bytes())
        }
    }
}

/// The single value of attribute `oid` in a set of attributes, `None` if absent or repeated.
pub(crate) fn single_attribute(
    attributes: Option<&x509_cert::attr::Attributes>,
    oid: Oid,
) -> Option<&der::Any> {
    let mut found = attributes?.iter().filter(|a| a.oid == oid);
    let attribute = found.next()?;
    if found.next().is_some() || attribute.values.len() != 1 {
        return None;
    }
    attribute.values.iter().next()
}
