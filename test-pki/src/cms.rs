//! CMS edits the fixtures share: a signature timestamp spliced into an envelope, the signature
//! value its imprint covers, and certificate bundles (`CACertificates.p7b`-style).

use crate::der_writer::{at, children, edit, explicit, oid, seq, set, split, tlv, uint};

/// ContentInfo → [0] → SignedData → signerInfos (last) → first SignerInfo.
pub const SIGNER_INFO: [isize; 4] = [1, 0, -1, 0];

/// `envelope` (DER) with `token` as its SignerInfo's signature timestamp
/// (`id-aa-signatureTimeStampToken`, an unsigned attribute).
pub fn with_signature_timestamp(envelope: &[u8], token: &[u8]) -> Vec<u8> {
    let attribute = seq(&[oid("1.2.840.113549.1.9.16.2.14"), set(&[token.to_vec()])]);
    edit(envelope, &SIGNER_INFO, &mut |content| {
        [content, &tlv(0xA1, &attribute)].concat()
    })
}

/// The signature value of the envelope's (first) SignerInfo: what a signature timestamp's
/// imprint covers.
pub fn signature_value(envelope: &[u8]) -> Vec<u8> {
    let (_, info, _) = split(at(envelope, &SIGNER_INFO));
    let value = children(info)
        .into_iter()
        .find(|child| child[0] == 0x04)
        .expect("a SignerInfo has a signature value");
    split(value).1.to_vec()
}

/// A CMS bundle of certificates (a SignedData without signers), as CAs publish them.
pub fn certificate_bundle(certificates: &[&[u8]]) -> Vec<u8> {
    let body = seq(&[
        uint(&[1]),
        set(&[]),
        seq(&[oid("1.2.840.113549.1.7.1")]),
        explicit(0, &certificates.concat()),
        set(&[]),
    ]);
    seq(&[oid("1.2.840.113549.1.7.2"), explicit(0, &body)])
}
