//! Just enough BER/DER walking to learn what the `openssl` crate's safe API
//! does not expose: how many SignerInfos the envelope holds (the crate can
//! only list signer *certificates*, and fails outright when there are none)
//! and whether the content is attached. BER indefinite lengths are accepted
//! because OpenSSL accepts them and streaming signers emit them.

/// id-signedData, 1.2.840.113549.1.7.2, as an encoded OBJECT IDENTIFIER.
const OID_SIGNED_DATA: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
];
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const CONTEXT_0: u8 = 0xA0;
/// Bounds recursion through nested indefinite-length values.
const MAX_DEPTH: usize = 64;

pub struct Layout {
    pub signer_infos: usize,
    pub content_attached: bool,
}

/// `None` when the input is not a ContentInfo wrapping a SignedData.
pub fn scan_signed_data(input: &[u8]) -> Option<Layout> {
    let (content_info, _trailing) = read(input, 0)?;
    expect(&content_info, SEQUENCE)?;
    let mut ci = Items::new(content_info.content);
    let content_type = ci.next()?;
    if content_type.whole != OID_SIGNED_DATA {
        return None;
    }
    let wrapper = ci.next()?;
    expect(&wrapper, CONTEXT_0)?;
    let signed_data = Items::new(wrapper.content).next()?;
    expect(&signed_data, SEQUENCE)?;

    let mut sd = Items::new(signed_data.content);
    expect(&sd.next()?, INTEGER)?;
    expect(&sd.next()?, SET)?; // digestAlgorithms
    let encap = sd.next()?;
    expect(&encap, SEQUENCE)?;
    // certificates [0] and crls [1] are optional; signerInfos is the last element.
    let signer_infos = sd.last()?;
    expect(&signer_infos, SET)?;

    let mut encap_items = Items::new(encap.content);
    encap_items.next()?; // eContentType
    let content_attached = matches!(encap_items.next(), Some(t) if t.tag == CONTEXT_0);

    let mut infos = Items::new(signer_infos.content);
    let count = infos.by_ref().count();
    if infos.failed {
        return None;
    }
    Some(Layout {
        signer_infos: count,
        content_attached,
    })
}

pub struct Tlv<'a> {
    /// First identifier octet; enough for the universal/context tags compared here.
    pub tag: u8,
    pub content: &'a [u8],
    pub whole: &'a [u8],
}

fn expect(tlv: &Tlv<'_>, tag: u8) -> Option<()> {
    (tlv.tag == tag).then_some(())
}

/// Iterates the elements of a constructed value's content.
struct Items<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Items<'a> {
    fn new(content: &'a [u8]) -> Self {
        Self {
            rest: content,
            failed: false,
        }
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Tlv<'a>;

    fn next(&mut self) -> Option<Tlv<'a>> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match read(self.rest, 0) {
            Some((tlv, rest)) => {
                self.rest = rest;
                Some(tlv)
            }
            None => {
                self.failed = true;
                None
            }
        }
    }
}

/// Reads one TLV; returns it and the bytes after it.
pub(super) fn read(input: &[u8], depth: usize) -> Option<(Tlv<'_>, &[u8])> {
    if depth > MAX_DEPTH {
        return None;
    }
    let tag = *input.first()?;
    let mut pos = 1usize;
    if tag & 0x1F == 0x1F {
        // High tag number form: continuation octets have bit 8 set.
        loop {
            let b = *input.get(pos)?;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let first_len = *input.get(pos)?;
    pos += 1;

    if first_len == 0x80 {
        // Indefinite length: only legal for constructed values; the
        // content runs until the end-of-contents octets 00 00.
        if tag & 0x20 == 0 {
            return None;
        }
        let start = pos;
        loop {
            let rest = input.get(pos..)?;
            if rest.starts_with(&[0, 0]) {
                let content = &input[start..pos];
                let end = pos + 2;
                return Some((
                    Tlv {
                        tag,
                        content,
                        whole: &input[..end],
                    },
                    &input[end..],
                ));
            }
            let (_, after) = read(rest, depth + 1)?;
            pos = input.len() - after.len();
        }
    }

    let len = if first_len < 0x80 {
        usize::from(first_len)
    } else {
        let n = usize::from(first_len & 0x7F);
        if n > std::mem::size_of::<usize>() {
            return None;
        }
        let bytes = input.get(pos..pos.checked_add(n)?)?;
        pos += n;
        bytes.iter().try_fold(0usize, |acc, b| {
            acc.checked_mul(256)?.checked_add(usize::from(*b))
        })?
    };
    let end = pos.checked_add(len)?;
    let content = input.get(pos..end)?;
    Some((
        Tlv {
            tag,
            content,
            whole: &input[..end],
        },
        &input[end..],
    ))
}
