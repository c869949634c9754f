//! Just enough DER walking to take values exactly as received: the signed attributes and each
//! TBSCertificate, TBSCertList and ResponseData are hashed over their received bytes, never over a
//! re-encoding (`der` 0.7 sorts a SET OF it decodes, which would change the signed bytes).

use der::{Decode, Header, Reader, SliceReader, Tag};

/// One DER value: its tag, its content, and the whole TLV as received.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    pub tag: Tag,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

/// The first value of `input` and what follows it. Definite lengths only (DER).
pub(crate) fn split(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let mut reader = SliceReader::new(input).ok()?;
    let header = Header::decode(&mut reader).ok()?;
    let header_len = usize::try_from(u32::from(reader.position())).ok()?;
    let len = usize::try_from(u32::from(header.length)).ok()?;
    let total = header_len.checked_add(len)?;
    let raw = input.get(..total)?;
    let tlv = Tlv {
        tag: header.tag,
        content: &raw[header_len..],
        raw,
    };
    Some((tlv, &input[total..]))
}

/// `input` holds exactly one value.
pub(crate) fn single(input: &[u8]) -> Option<Tlv<'_>> {
    match split(input)? {
        (tlv, []) => Some(tlv),
        _ => None,
    }
}

/// The values inside a constructed value's content, in order; `None` if any is malformed.
pub(crate) fn children(content: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (tlv, next) = split(rest)?;
        out.push(tlv);
        rest = next;
    }
    Some(out)
}

/// The first child of a single SEQUENCE (a TBSCertificate, TBSCertList, tbsResponseData).
pub(crate) fn first_child_of_sequence(input: &[u8]) -> Option<&[u8]> {
    let outer = single(input)?;
    if outer.tag != Tag::Sequence {
        return None;
    }
    Some(split(outer.content)?.0.raw)
}

/// The signed attributes of a SignerInfo with their `[0] IMPLICIT` tag turned into the SET OF tag,
/// as RFC 5652 5.4 has them hashed; `None` when the SignerInfo has none.
pub(crate) fn signed_attributes_for_digest(signer_info: &[u8]) -> Option<Vec<u8>> {
    let outer = single(signer_info)?;
    // version, sid, digestAlgorithm, then [0] signedAttrs if present.
    let fourth = children(outer.content)?.get(3).copied()?;
    if fourth.raw.first() != Some(&0xA0) {
        return None;
    }
    let mut bytes = fourth.raw.to_vec();
    bytes[0] = 0x31;
    Some(bytes)
}
