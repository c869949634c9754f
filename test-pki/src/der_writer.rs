//! A minimal DER writer and editor for building and corrupting test structures.

use der::asn1::ObjectIdentifier;
use der::Encode;

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

pub fn set(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x31, &parts.concat())
}

pub fn oid(text: &str) -> Vec<u8> {
    ObjectIdentifier::new_unwrap(text).to_der().unwrap()
}

/// A non-negative INTEGER from big-endian bytes.
pub fn uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = if trimmed.is_empty() { vec![0] } else { trimmed };
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    tlv(0x02, &content)
}

pub fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv(0x04, bytes)
}

pub fn bits(bytes: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0u8][..], bytes].concat())
}

pub fn utf8(text: &str) -> Vec<u8> {
    tlv(0x0C, text.as_bytes())
}

pub fn printable(text: &str) -> Vec<u8> {
    tlv(0x13, text.as_bytes())
}

pub fn utc_time(text: &str) -> Vec<u8> {
    tlv(0x17, text.as_bytes())
}

pub fn generalized_time(text: &str) -> Vec<u8> {
    tlv(0x18, text.as_bytes())
}

pub fn explicit(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xA0 | n, content)
}

/// (tag, content, rest)
pub fn split(der: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = der[0];
    let (len, header) = if der[1] < 0x80 {
        (der[1] as usize, 2)
    } else {
        let n = (der[1] & 0x7F) as usize;
        let len = der[2..2 + n]
            .iter()
            .fold(0usize, |a, b| a << 8 | *b as usize);
        (len, 2 + n)
    };
    (tag, &der[header..header + len], &der[header + len..])
}

pub fn children(content: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (_, _, next) = split(rest);
        out.push(&rest[..rest.len() - next.len()]);
        rest = next;
    }
    out
}

/// Rewrites the content of the value at `path` (child indices from the outer value; −1 is the
/// last child), re-encoding the lengths of every value around it.
pub fn edit(der: &[u8], path: &[isize], f: &mut dyn FnMut(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let (tag, content, _) = split(der);
    let Some((&first, rest)) = path.split_first() else {
        return tlv(tag, &f(content));
    };
    let kids = children(content);
    let index = if first < 0 {
        kids.len() - 1
    } else {
        first as usize
    };
    let rebuilt: Vec<Vec<u8>> = kids
        .iter()
        .enumerate()
        .map(|(i, kid)| {
            if i == index {
                edit(kid, rest, f)
            } else {
                kid.to_vec()
            }
        })
        .collect();
    tlv(tag, &rebuilt.concat())
}

/// The value at `path`, whole.
pub fn at<'a>(der: &'a [u8], path: &[isize]) -> &'a [u8] {
    let Some((&first, rest)) = path.split_first() else {
        return der;
    };
    let (_, content, _) = split(der);
    let kids = children(content);
    let index = if first < 0 {
        kids.len() - 1
    } else {
        first as usize
    };
    at(kids[index], rest)
}
