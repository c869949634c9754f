//! Real certificates of the Ukrainian PKI (see tests/data/README.md for where each comes from):
//! their DSTU 4145 signatures verify over the TBS bytes exactly as received, hashed with the
//! issuer's GOST 34.311 DKE (or Kupyna-256), up to the self-signed root.

use der::{Decode, Encode, Header, Reader, SliceReader, Tag};
use ehealth_dstu4145::{
    oid, ByteOrder, Curve, Error, Signature, SignatureAlgorithm, SubjectPublicKey,
};
use x509_cert::Certificate;

const CZO_ROOT_2012: &[u8] = include_bytes!("data/czo-root-2012.cer");
const CA_JUSTICE_2015: &[u8] = include_bytes!("data/ca-justice-2015.cer");
const NBU_ROOT_GOST_2025: &[u8] = include_bytes!("data/nbu-root-gost-2025.cer");
const NBU_ROOT_KUPYNA_2026: &[u8] = include_bytes!("data/nbu-root-kupyna-2026.cer");
const SFS_STAMP_2016: &[u8] = include_bytes!("data/sfs-stamp-2016.cer");
const JKURWA_SELF_SIGNED: &[u8] = include_bytes!("data/jkurwa-self-signed.cer");

/// The TBSCertificate TLV exactly as it appears in the certificate.
fn raw_tbs(certificate: &[u8]) -> Vec<u8> {
    let mut reader = SliceReader::new(certificate).unwrap();
    let outer = Header::decode(&mut reader).unwrap();
    assert_eq!(outer.tag, Tag::Sequence);
    reader.tlv_bytes().unwrap().to_vec()
}

/// The SubjectPublicKeyInfo of `certificate`, DER encoded.
fn spki_der(certificate: &[u8]) -> Vec<u8> {
    let cert = Certificate::from_der(certificate).unwrap();
    let spki = &cert.tbs_certificate.subject_public_key_info;
    spki.to_der().unwrap()
}

fn subject_key(certificate: &[u8]) -> SubjectPublicKey {
    SubjectPublicKey::from_spki_der(&spki_der(certificate)).unwrap()
}

/// Verifies `certificate`'s signature with `issuer`'s key, over `tbs` (normally the received bytes).
fn verify_with(certificate: &[u8], tbs: &[u8], issuer: &SubjectPublicKey) -> Result<(), Error> {
    let cert = Certificate::from_der(certificate).unwrap();
    let algorithm = SignatureAlgorithm::from_oid(&cert.signature_algorithm.oid)?;
    let value = cert.signature.as_bytes().expect("no unused bits");
    let signature = Signature::from_octet_string_der(value, algorithm.byte_order())?;
    issuer.verify_message(algorithm, tbs, &signature)
}

/// [`verify_with`] over the certificate's own TBS bytes.
fn verify_received(certificate: &[u8], issuer: &SubjectPublicKey) -> Result<(), Error> {
    verify_with(certificate, &raw_tbs(certificate), issuer)
}

#[test]
fn the_central_certification_authority_root_of_2012_verifies_its_own_signature() {
    let root = subject_key(CZO_ROOT_2012);
    assert_eq!(root.key.curve().degree(), 431);
    assert!(root.key.curve().has_standard_base_point());
    assert_eq!(root.byte_order, ByteOrder::LittleEndian);
    assert!(root.dke.is_default());
    assert_eq!(verify_received(CZO_ROOT_2012, &root), Ok(()));
}

#[test]
fn the_justice_ca_certificate_of_2015_verifies_up_to_the_central_root() {
    let root = subject_key(CZO_ROOT_2012);
    let justice = subject_key(CA_JUSTICE_2015);
    assert_eq!(justice.key.curve().degree(), 257);
    assert_eq!(verify_received(CA_JUSTICE_2015, &root), Ok(()));
    assert_eq!(verify_received(CZO_ROOT_2012, &root), Ok(()));
}

#[test]
fn the_national_bank_roots_verify_with_gost_34311_and_with_kupyna() {
    let gost = subject_key(NBU_ROOT_GOST_2025);
    assert_eq!(verify_received(NBU_ROOT_GOST_2025, &gost), Ok(()));
    let kupyna = subject_key(NBU_ROOT_KUPYNA_2026);
    let cert = Certificate::from_der(NBU_ROOT_KUPYNA_2026).unwrap();
    assert_eq!(cert.signature_algorithm.oid, oid::DSTU4145_KUPYNA256_LE);
    assert_eq!(verify_received(NBU_ROOT_KUPYNA_2026, &kupyna), Ok(()));
}

#[test]
fn a_named_curve_key_with_its_dke_verifies_its_self_signature() {
    let key = subject_key(JKURWA_SELF_SIGNED);
    assert_eq!(key.key.curve(), &Curve::named_with_degree(257).unwrap());
    assert_eq!(verify_received(JKURWA_SELF_SIGNED, &key), Ok(()));
}

#[test]
fn a_changed_tbs_byte_or_the_wrong_issuer_does_not_verify() {
    let root = subject_key(CZO_ROOT_2012);
    let mut tbs = raw_tbs(CA_JUSTICE_2015);
    let last = tbs.len() - 1;
    tbs[last] ^= 0x01;
    assert_eq!(
        verify_with(CA_JUSTICE_2015, &tbs, &root),
        Err(Error::SignatureMismatch)
    );
    let other_root = subject_key(NBU_ROOT_GOST_2025);
    assert_eq!(
        verify_received(CA_JUSTICE_2015, &other_root),
        Err(Error::SignatureMismatch)
    );
    // Read big-endian, the little-endian signature of the root is another (r, s).
    let cert = Certificate::from_der(CZO_ROOT_2012).unwrap();
    let value = cert.signature.as_bytes().unwrap();
    let swapped = Signature::from_octet_string_der(value, ByteOrder::BigEndian).unwrap();
    let algorithm = SignatureAlgorithm::Gost34311(ByteOrder::BigEndian);
    assert!(root
        .verify_message(algorithm, &raw_tbs(CZO_ROOT_2012), &swapped)
        .is_err());
}

#[test]
fn the_tax_service_stamp_key_of_2016_parses_but_its_issuer_is_not_among_the_fixtures() {
    let stamp = subject_key(SFS_STAMP_2016);
    assert_eq!(stamp.key.curve().degree(), 257);
    let tbs = raw_tbs(SFS_STAMP_2016);
    // A 257-bit signature is too short for the 431-bit root; the 257-bit Justice CA did not sign it.
    assert_eq!(
        verify_with(SFS_STAMP_2016, &tbs, &subject_key(CZO_ROOT_2012)),
        Err(Error::InvalidSignatureEncoding(
            "each half must hold L(n) bits"
        ))
    );
    assert_eq!(
        verify_with(SFS_STAMP_2016, &tbs, &subject_key(CA_JUSTICE_2015)),
        Err(Error::SignatureMismatch)
    );
}

#[test]
fn a_key_whose_parameters_are_changed_is_refused() {
    let spki = spki_der(CZO_ROOT_2012);
    // The first byte of B (little-endian, so its least significant byte) inside the explicit parameters.
    let b = [0x04, 0x36, 0xF3, 0xCA, 0x40];
    let at = spki.windows(b.len()).position(|w| w == b).unwrap() + 2;
    let mut changed = spki.clone();
    changed[at] ^= 0x02;
    assert_eq!(
        SubjectPublicKey::from_spki_der(&changed),
        Err(Error::NonStandardCurve("B differs"))
    );
    // The algorithm OID turned into the optimal-normal-basis one (…3.1.2) is refused.
    let le = oid::DSTU4145_PB_LE.to_der().unwrap();
    let onb = oid::DSTU4145_ONB_LE.to_der().unwrap();
    let at = spki
        .windows(le.len())
        .position(|w| w == le.as_slice())
        .unwrap();
    let mut changed = spki.clone();
    changed[at..at + le.len()].copy_from_slice(&onb);
    assert!(matches!(
        SubjectPublicKey::from_spki_der(&changed),
        Err(Error::UnsupportedAlgorithm(_))
    ));
}

/// jkurwa's CMS SignedData (test/data/message.p7): the SignerInfo's signature is r‖s little-endian
/// without OCTET STRING wrapping, over the GOST 34.311 hash of the DER signed attributes (SET OF),
/// whose messageDigest is the GOST 34.311 digest of the content, bytes as the hash outputs them.
#[test]
fn a_cms_signer_info_verifies_over_its_signed_attributes() {
    use cms::{content_info::ContentInfo, signed_data::SignedData};
    let p7 = include_bytes!("data/jkurwa-message.p7");
    let signed: SignedData = ContentInfo::from_der(p7)
        .unwrap()
        .content
        .decode_as()
        .unwrap();
    let content = signed.encap_content_info.econtent.as_ref().unwrap();
    let content = der::asn1::OctetString::from_der(&content.to_der().unwrap()).unwrap();
    assert_eq!(content.as_bytes(), b"123");
    let signer = signed.signer_infos.0.iter().next().unwrap();
    assert_eq!(signer.signature_algorithm.oid, oid::DSTU4145_PB_LE);
    assert_eq!(signer.digest_alg.oid, oid::GOST34311);
    let attrs = signer.signed_attrs.as_ref().unwrap();
    let message_digest = attrs
        .iter()
        .find(|a| a.oid == der::oid::db::rfc5911::ID_MESSAGE_DIGEST)
        .map(|a| a.values.iter().next().unwrap().value().to_vec())
        .unwrap();
    let key = subject_key(JKURWA_SELF_SIGNED);
    assert_eq!(
        message_digest,
        ehealth_dstu4145::gost34311(&key.dke, b"123").unwrap()
    );
    let signature =
        Signature::from_bytes(signer.signature.as_bytes(), ByteOrder::LittleEndian).unwrap();
    let algorithm = SignatureAlgorithm::Gost34311(ByteOrder::LittleEndian);
    assert_eq!(
        key.verify_message(algorithm, &raw_signed_attrs(p7), &signature),
        Ok(())
    );
    // `der` sorts a SET OF it decodes, so re-encoding the attributes changes the signed bytes.
    assert_ne!(attrs.to_der().unwrap(), raw_signed_attrs(p7));
    assert_eq!(
        key.verify_message(algorithm, &attrs.to_der().unwrap(), &signature),
        Err(Error::SignatureMismatch)
    );
    assert_eq!(
        key.verify_message(algorithm, b"123", &signature),
        Err(Error::SignatureMismatch)
    );
}

/// The first SignerInfo's signedAttrs exactly as received, with the [0] IMPLICIT tag made the
/// SET OF tag (RFC 5652, 5.4).
fn raw_signed_attrs(p7: &[u8]) -> Vec<u8> {
    let mut r = SliceReader::new(p7).unwrap();
    Header::decode(&mut r).unwrap(); // ContentInfo
    r.tlv_bytes().unwrap(); // contentType
    Header::decode(&mut r).unwrap(); // [0] EXPLICIT
    let signed_data = Header::decode(&mut r).unwrap();
    let end = (r.position() + signed_data.length).unwrap();
    let mut last = &[][..];
    while r.position() < end {
        last = r.tlv_bytes().unwrap(); // …, signerInfos
    }
    let mut r = SliceReader::new(last).unwrap();
    Header::decode(&mut r).unwrap(); // SET OF SignerInfo
    Header::decode(&mut r).unwrap(); // SignerInfo
    for _ in 0..3 {
        r.tlv_bytes().unwrap(); // version, sid, digestAlgorithm
    }
    let mut attrs = r.tlv_bytes().unwrap().to_vec();
    assert_eq!(attrs[0], 0xA0);
    attrs[0] = 0x31;
    attrs
}

/// Every byte of a real SubjectPublicKeyInfo changed, and every truncation: an error or a valid
/// key, never a panic.
#[test]
fn corrupted_subject_public_key_infos_never_panic() {
    let spki = spki_der(CA_JUSTICE_2015);
    for at in 0..spki.len() {
        let mut changed = spki.clone();
        changed[at] ^= 0x5A;
        let _ = SubjectPublicKey::from_spki_der(&changed);
        let _ = SubjectPublicKey::from_spki_der(&spki[..at]);
    }
}
