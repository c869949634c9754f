//! Digital-signature check for the "recall service request" action.
//!
//! Clients send the request body as `signed_data`: base64 of a DER CMS/PKCS#7
//! SignedData envelope with the signed document attached. [`SignatureVerifier`]
//! accepts it only when the envelope carries exactly one signature, that
//! signature is valid over the attached bytes, and the signer certificate
//! chains, at the current time, to one of the configured trust anchors. It
//! returns the signed bytes together with the signer's identity (DRFO tax
//! number and common name) so the caller can match them against the
//! authenticated user and the request.
//!
//! Messages in [`SignatureError`] are meant for API clients, so OpenSSL error
//! stacks are reduced to one short reason.

use std::fmt;
use std::path::Path;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use openssl::nid::Nid;
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::stack::{Stack, StackRef};
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509Ref, X509StoreContext, X509VerifyResult, X509};

/// Why a signed envelope was rejected, or why trust anchors could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("Not a base64 string")]
    NotBase64,
    #[error("Malformed signed data: not a CMS/PKCS#7 SignedData envelope")]
    Malformed,
    #[error("document must be signed by 1 signer but contains {0} signatures")]
    SignerCount(usize),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TrustAnchors(String),
}

/// The outcome of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDocument {
    /// The attached signed content, byte for byte.
    pub content: Vec<u8>,
    /// Subject `serialNumber` of the signer certificate, without the
    /// `TINUA-` prefix and spaces.
    pub signer_drfo: Option<String>,
    /// Subject `commonName` of the signer certificate.
    pub signer_common_name: Option<String>,
}

/// Verifies signed envelopes against a fixed set of trust anchors.
///
/// Immutable after construction and `Send + Sync`, so one instance can be
/// shared across request handlers.
pub struct SignatureVerifier {
    store: X509Store,
    anchors: usize,
}

impl fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureVerifier")
            .field("anchors", &self.anchors)
            .finish_non_exhaustive()
    }
}

impl SignatureVerifier {
    /// Parse a PEM file's contents holding one or more CA certificates (the trust anchors).
    pub fn from_pem(pem: &[u8]) -> Result<Self, SignatureError> {
        let certs = X509::stack_from_pem(pem).map_err(|e| {
            SignatureError::TrustAnchors(format!(
                "trust anchors are not valid PEM certificates: {}",
                short_reason(&e)
            ))
        })?;
        if certs.is_empty() {
            return Err(SignatureError::TrustAnchors(
                "no certificate found in trust anchors PEM".to_owned(),
            ));
        }
        let anchors = certs.len();

        let store_err = |e: openssl::error::ErrorStack| {
            SignatureError::TrustAnchors(format!("cannot build trust store: {}", short_reason(&e)))
        };
        let mut builder = X509StoreBuilder::new().map_err(store_err)?;
        for cert in certs {
            builder.add_cert(cert).map_err(store_err)?;
        }
        // An anchor is trusted as configured: an intermediate CA listed in
        // the file ends the chain without its root having to be listed too.
        builder
            .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
            .map_err(store_err)?;

        Ok(Self {
            store: builder.build(),
            anchors,
        })
    }

    /// Read and parse a PEM file of trust anchors (see [`SignatureVerifier::from_pem`]).
    pub fn from_pem_file(path: &Path) -> Result<Self, SignatureError> {
        let pem = std::fs::read(path).map_err(|e| {
            SignatureError::TrustAnchors(format!(
                "cannot read trust anchors file {}: {e}",
                path.display()
            ))
        })?;
        Self::from_pem(&pem)
    }

    /// `signed_data` is base64 (standard alphabet, padding optional, surrounding whitespace tolerated)
    /// of a DER CMS/PKCS#7 SignedData envelope with the content ATTACHED.
    pub fn verify(&self, signed_data: &str) -> Result<VerifiedDocument, SignatureError> {
        let der = decode_base64(signed_data)?;

        // OpenSSL's parser is the authority on well-formedness; the local
        // scan below only runs on input it has already accepted.
        let p7 = Pkcs7::from_der(&der).map_err(|_| SignatureError::Malformed)?;
        let signed = p7.signed().ok_or(SignatureError::Malformed)?;
        let layout = der::scan_signed_data(&der).ok_or(SignatureError::Malformed)?;

        if layout.signer_infos != 1 {
            return Err(SignatureError::SignerCount(layout.signer_infos));
        }
        if !layout.content_attached {
            return Err(invalid("signed content is not attached"));
        }

        let no_extra_certs: Stack<X509> = Stack::new().map_err(|_| internal())?;
        let embedded: &StackRef<X509> = signed.certificates().unwrap_or(&no_extra_certs);

        let signers = p7
            .signers(&no_extra_certs, Pkcs7Flags::empty())
            .map_err(|_| invalid("signer certificate is not included in the signed data"))?;
        let signer = signers
            .get(0)
            .ok_or_else(|| invalid("signer certificate is not included in the signed data"))?;

        // Chain checking is done separately below (NOVERIFY here) because
        // PKCS7_verify folds every chain failure into one opaque error and
        // imposes the S/MIME-signing purpose on the certificate.
        let mut content = Vec::new();
        p7.verify(
            &no_extra_certs,
            &self.store,
            None,
            Some(&mut content),
            Pkcs7Flags::NOVERIFY,
        )
        .map_err(|_| invalid("signature is invalid: it does not match the signed content"))?;

        self.verify_chain(signer, embedded)?;

        Ok(VerifiedDocument {
            content,
            signer_drfo: subject_entry(signer, Nid::SERIALNUMBER).and_then(|s| normalize_drfo(&s)),
            signer_common_name: subject_entry(signer, Nid::COMMONNAME),
        })
    }

    fn verify_chain(&self, signer: &X509Ref, chain: &StackRef<X509>) -> Result<(), SignatureError> {
        let mut ctx = X509StoreContext::new().map_err(|_| internal())?;
        let outcome = ctx
            .init(&self.store, signer, chain, |ctx| {
                if ctx.verify_cert()? {
                    return Ok(None);
                }
                // A failed verification may leave entries on this thread's
                // OpenSSL error queue; drop them so they cannot surface in
                // an unrelated later call on the same worker thread.
                drop(openssl::error::ErrorStack::get());
                Ok(Some(ctx.error()))
            })
            .map_err(|_| internal())?;
        match outcome {
            None => Ok(()),
            Some(result) => Err(invalid(chain_error_message(result))),
        }
    }
}

/// Raw `X509_V_ERR_*` codes from `openssl/x509_vfy.h`; the `openssl` crate
/// exposes only `OK`. These values have been stable since OpenSSL 0.9.
mod x509_v_err {
    pub const UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
    pub const CERT_SIGNATURE_FAILURE: i32 = 7;
    pub const CERT_NOT_YET_VALID: i32 = 9;
    pub const CERT_HAS_EXPIRED: i32 = 10;
    pub const DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
    pub const SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
    pub const UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
    pub const UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
    pub const CERT_REVOKED: i32 = 23;
}

fn chain_error_message(result: X509VerifyResult) -> String {
    use x509_v_err::*;
    match result.as_raw() {
        UNABLE_TO_GET_ISSUER_CERT
        | DEPTH_ZERO_SELF_SIGNED_CERT
        | SELF_SIGNED_CERT_IN_CHAIN
        | UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | UNABLE_TO_VERIFY_LEAF_SIGNATURE => "matching ROOT certificate not found".to_owned(),
        CERT_HAS_EXPIRED => "certificate timestamp expired".to_owned(),
        CERT_NOT_YET_VALID => "certificate is not yet valid".to_owned(),
        CERT_SIGNATURE_FAILURE => "certificate signature is invalid".to_owned(),
        CERT_REVOKED => "certificate is revoked".to_owned(),
        _ => format!("certificate verification failed: {}", result.error_string()),
    }
}

fn decode_base64(input: &str) -> Result<Vec<u8>, SignatureError> {
    // Clients differ on padding, and some wrap long base64 at 64/76 columns.
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: Vec<u8> = input.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let der = ENGINE
        .decode(&compact)
        .map_err(|_| SignatureError::NotBase64)?;
    // "" is valid base64, but of nothing that could be an envelope.
    if der.is_empty() {
        return Err(SignatureError::Malformed);
    }
    Ok(der)
}

fn subject_entry(cert: &X509Ref, nid: Nid) -> Option<String> {
    let entry = cert.subject_name().entries_by_nid(nid).next()?;
    entry.data().to_string().ok()
}

/// Ukrainian qualified certificates carry the DRFO as `TINUA-<digits>`,
/// sometimes with spaces; the bare number is what identifies the person.
fn normalize_drfo(raw: &str) -> Option<String> {
    const PREFIX: &str = "TINUA-";
    let trimmed = raw.trim_start();
    let rest = match trimmed.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => &trimmed[PREFIX.len()..],
        _ => trimmed,
    };
    let drfo: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    (!drfo.is_empty()).then_some(drfo)
}

fn invalid(message: impl Into<String>) -> SignatureError {
    SignatureError::Invalid(message.into())
}

/// Allocation-level OpenSSL failures: nothing the client can act on.
fn internal() -> SignatureError {
    invalid("signature verification failed due to an internal error")
}

fn short_reason(stack: &openssl::error::ErrorStack) -> String {
    stack
        .errors()
        .first()
        .and_then(|e| e.reason())
        .unwrap_or("unknown error")
        .to_owned()
}

/// Just enough BER/DER walking to learn what the `openssl` crate's safe API
/// does not expose: how many SignerInfos the envelope holds (the crate can
/// only list signer *certificates*, and fails outright when there are none)
/// and whether the content is attached. BER indefinite lengths are accepted
/// because OpenSSL accepts them and streaming signers emit them.
mod der {
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
    fn read(input: &[u8], depth: usize) -> Option<(Tlv<'_>, &[u8])> {
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

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_indefinite_length_and_rejects_truncation() {
            // SEQUENCE (indefinite) { INTEGER 5 } EOC, then trailing 0xFF
            let input = [0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00, 0xFF];
            let (tlv, rest) = read(&input, 0).unwrap();
            assert_eq!(tlv.tag, 0x30);
            assert_eq!(tlv.content, &[0x02, 0x01, 0x05]);
            assert_eq!(rest, &[0xFF]);

            assert!(read(&input[..5], 0).is_none());
            assert!(read(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF], 0).is_none());
            assert!(read(&[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0).is_none());
            assert!(read(&[], 0).is_none());
        }

        #[test]
        fn deep_indefinite_nesting_is_bounded() {
            let input: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 10_000)
                .flatten()
                .collect();
            assert!(read(&input, 0).is_none());
        }
    }
}

// Declared here rather than inside `mod tests`: a `#[path]` inside an inline
// module resolves relative to `src/signature/tests/`, not `src/`.
#[cfg(test)]
#[path = "../tests/support/pki.rs"]
mod pki;

#[cfg(test)]
mod tests {
    use super::pki::{self, TestCa, TestSigner};
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use std::sync::OnceLock;

    const CONTENT: &[u8] = br#"{"service_request":{"id":"7c2d4a1e","status":"recalled","status_reason":"entered_in_error"}}"#;

    /// RSA key generation dominates test time, so tests that only need "some
    /// trusted CA and a signer" share one.
    fn shared() -> &'static (TestCa, TestSigner) {
        static SHARED: OnceLock<(TestCa, TestSigner)> = OnceLock::new();
        SHARED.get_or_init(|| {
            let ca = TestCa::new("Test Root CA");
            let signer = ca.issue_signer("TINUA-1234567890", "Шевченко Тарас Григорович");
            (ca, signer)
        })
    }

    fn verifier_for(ca: &TestCa) -> SignatureVerifier {
        SignatureVerifier::from_pem(&ca.pem()).unwrap()
    }

    fn invalid_message(result: Result<VerifiedDocument, SignatureError>) -> String {
        match result {
            Err(SignatureError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn verifier_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SignatureVerifier>();
    }

    #[test]
    fn valid_rsa_signer() {
        let (ca, signer) = shared();
        let doc = verifier_for(ca).verify(&signer.sign(CONTENT)).unwrap();
        assert_eq!(doc.content, CONTENT);
        assert_eq!(doc.signer_drfo.as_deref(), Some("1234567890"));
        assert_eq!(
            doc.signer_common_name.as_deref(),
            Some("Шевченко Тарас Григорович")
        );
    }

    #[test]
    fn valid_ecdsa_p256_signer() {
        let (ca, _) = shared();
        let signer = ca.issue_signer_ec("3333333333", "EC Signer");
        let doc = verifier_for(ca).verify(&signer.sign(CONTENT)).unwrap();
        assert_eq!(doc.content, CONTENT);
        assert_eq!(doc.signer_drfo.as_deref(), Some("3333333333"));
        assert_eq!(doc.signer_common_name.as_deref(), Some("EC Signer"));
    }

    #[test]
    fn drfo_without_prefix_is_taken_verbatim() {
        let (ca, _) = shared();
        let signer = ca.issue_signer_ec("2222222222", "Plain DRFO");
        let doc = verifier_for(ca).verify(&signer.sign(CONTENT)).unwrap();
        assert_eq!(doc.signer_drfo.as_deref(), Some("2222222222"));
    }

    #[test]
    fn drfo_prefix_is_case_insensitive_and_spaces_are_dropped() {
        let (ca, _) = shared();
        let signer = ca.issue_signer_ec("tinua- 4444 444444", "Spaced DRFO");
        let doc = verifier_for(ca).verify(&signer.sign(CONTENT)).unwrap();
        assert_eq!(doc.signer_drfo.as_deref(), Some("4444444444"));
    }

    #[test]
    fn drfo_normalization() {
        assert_eq!(
            normalize_drfo("TINUA-1234567890").as_deref(),
            Some("1234567890")
        );
        assert_eq!(
            normalize_drfo("tinua-1234567890").as_deref(),
            Some("1234567890")
        );
        assert_eq!(
            normalize_drfo("TINUA- 1234 567 890").as_deref(),
            Some("1234567890")
        );
        assert_eq!(normalize_drfo("1234567890").as_deref(), Some("1234567890"));
        assert_eq!(normalize_drfo("TINUA-"), None);
        assert_eq!(normalize_drfo("   "), None);
        // Multi-byte text shorter than the prefix must not panic on slicing.
        assert_eq!(normalize_drfo("ТІН").as_deref(), Some("ТІН"));
    }

    #[test]
    fn base64_variants_are_accepted() {
        let (ca, signer) = shared();
        let verifier = verifier_for(ca);
        let padded = signer.sign(CONTENT);
        let unpadded = padded.trim_end_matches('=').to_owned();
        let wrapped: String = padded
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n");
        for input in [unpadded, format!("  \n{wrapped}\n  ")] {
            assert_eq!(verifier.verify(&input).unwrap().content, CONTENT);
        }
    }

    #[test]
    fn not_base64() {
        let (ca, _) = shared();
        let verifier = verifier_for(ca);
        for input in ["not base64!", "@@@@", "QUJD-_"] {
            assert!(
                matches!(verifier.verify(input), Err(SignatureError::NotBase64)),
                "{input}"
            );
        }
        assert_eq!(
            verifier.verify("%%").unwrap_err().to_string(),
            "Not a base64 string"
        );
    }

    #[test]
    fn garbage_der_is_malformed() {
        let (ca, signer) = shared();
        let verifier = verifier_for(ca);
        let valid = STANDARD.decode(signer.sign(CONTENT)).unwrap();

        let mut inputs: Vec<Vec<u8>> = vec![
            b"hello world, this is not DER".to_vec(),
            vec![0x30, 0x03, 0x02, 0x01, 0x01],
            vec![0x30, 0x80],
            (0u8..=255).cycle().take(4096).collect(),
        ];
        // Every truncation of a real envelope.
        inputs.extend((1..valid.len()).step_by(7).map(|n| valid[..n].to_vec()));
        for der in inputs {
            assert!(
                matches!(
                    verifier.verify(&STANDARD.encode(&der)),
                    Err(SignatureError::Malformed)
                ),
                "{} bytes",
                der.len()
            );
        }
        assert!(matches!(
            verifier.verify(""),
            Err(SignatureError::Malformed)
        ));
        assert!(matches!(
            verifier.verify("  \n"),
            Err(SignatureError::Malformed)
        ));
    }

    #[test]
    fn random_bytes_never_panic() {
        let (ca, _) = shared();
        let verifier = verifier_for(ca);
        let mut buf = [0u8; 512];
        for _ in 0..200 {
            openssl::rand::rand_bytes(&mut buf).unwrap();
            let len = usize::from(buf[0]) * 2;
            let _ = verifier.verify(&STANDARD.encode(&buf[..len]));
        }
    }

    #[test]
    fn zero_signers() {
        let (ca, _) = shared();
        let envelope = pki::sign_with_none(ca, CONTENT);

        // OpenSSL must see a SignedData with the content and no signature.
        let p7 = Pkcs7::from_der(&STANDARD.decode(&envelope).unwrap()).unwrap();
        let none: Stack<X509> = Stack::new().unwrap();
        assert_eq!(p7.signed().unwrap().certificates().unwrap().len(), 1);
        assert!(p7.signers(&none, Pkcs7Flags::empty()).is_err());

        let result = verifier_for(ca).verify(&envelope);
        assert!(
            matches!(result, Err(SignatureError::SignerCount(0))),
            "{result:?}"
        );
    }

    #[test]
    fn two_signers() {
        let (ca, a) = shared();
        let b = ca.issue_signer_ec("2222222222", "Second Signer");
        let envelope = pki::sign_with_two(a, &b, CONTENT);

        // The spliced fixture must be something OpenSSL itself accepts as a
        // two-signature envelope, or the test would prove nothing.
        let der = STANDARD.decode(&envelope).unwrap();
        let p7 = Pkcs7::from_der(&der).unwrap();
        let none: Stack<X509> = Stack::new().unwrap();
        assert_eq!(p7.signers(&none, Pkcs7Flags::empty()).unwrap().len(), 2);
        let mut out = Vec::new();
        p7.verify(
            &none,
            &verifier_for(ca).store,
            None,
            Some(&mut out),
            Pkcs7Flags::NOVERIFY,
        )
        .unwrap();
        assert_eq!(out, CONTENT);

        let err = verifier_for(ca).verify(&envelope).unwrap_err();
        assert!(matches!(err, SignatureError::SignerCount(2)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "document must be signed by 1 signer but contains 2 signatures"
        );
    }

    #[test]
    fn untrusted_ca() {
        let (_, signer) = shared();
        let other = TestCa::new("Some Other CA");
        let message = invalid_message(verifier_for(&other).verify(&signer.sign(CONTENT)));
        assert_eq!(message, "matching ROOT certificate not found");
    }

    #[test]
    fn self_signed_signer_is_not_trusted() {
        let (ca, _) = shared();
        let rogue = TestCa::new("Rogue");
        let signer = TestSigner {
            cert: rogue.cert.clone(),
            key: rogue.key.clone(),
        };
        let message = invalid_message(verifier_for(ca).verify(&signer.sign(CONTENT)));
        assert_eq!(message, "matching ROOT certificate not found");
    }

    #[test]
    fn expired_signer_certificate() {
        let (ca, _) = shared();
        let signer = ca.issue_signer_valid("1234567890", -30, -1);
        let message = invalid_message(verifier_for(ca).verify(&signer.sign(CONTENT)));
        assert_eq!(message, "certificate timestamp expired");
    }

    #[test]
    fn not_yet_valid_signer_certificate() {
        let (ca, _) = shared();
        let signer = ca.issue_signer_valid("1234567890", 1, 30);
        let message = invalid_message(verifier_for(ca).verify(&signer.sign(CONTENT)));
        assert_eq!(message, "certificate is not yet valid");
    }

    #[test]
    fn tampered_content() {
        let (ca, signer) = shared();
        let mut der = STANDARD.decode(signer.sign(CONTENT)).unwrap();
        let at = der
            .windows(CONTENT.len())
            .position(|w| w == CONTENT)
            .expect("content is embedded in the envelope");
        der[at + 10] ^= 0x01;
        let message = invalid_message(verifier_for(ca).verify(&STANDARD.encode(&der)));
        assert!(message.starts_with("signature is invalid"), "{message}");
    }

    #[test]
    fn detached_content_is_rejected() {
        let (ca, signer) = shared();
        let cms = openssl::cms::CmsContentInfo::sign(
            Some(&signer.cert),
            Some(&signer.key),
            None,
            Some(CONTENT),
            openssl::cms::CMSOptions::BINARY | openssl::cms::CMSOptions::DETACHED,
        )
        .unwrap();
        let envelope = STANDARD.encode(cms.to_der().unwrap());
        let message = invalid_message(verifier_for(ca).verify(&envelope));
        assert_eq!(message, "signed content is not attached");
    }

    #[test]
    fn trust_anchor_loading() {
        let (ca, _) = shared();
        assert!(matches!(
            SignatureVerifier::from_pem(b""),
            Err(SignatureError::TrustAnchors(_))
        ));
        assert!(matches!(
            SignatureVerifier::from_pem(b"not a pem"),
            Err(SignatureError::TrustAnchors(_))
        ));
        let mut broken = ca.pem();
        let mid = broken.len() / 2;
        broken[mid] = b'!';
        assert!(matches!(
            SignatureVerifier::from_pem(&broken),
            Err(SignatureError::TrustAnchors(_))
        ));
        assert!(matches!(
            SignatureVerifier::from_pem_file(Path::new("/nonexistent/anchors.pem")),
            Err(SignatureError::TrustAnchors(_))
        ));

        // Several anchors in one file, the signer's CA not first.
        let other = TestCa::new("Another CA");
        let bundle = [other.pem(), ca.pem()].concat();
        let verifier = SignatureVerifier::from_pem(&bundle).unwrap();
        let (_, signer) = shared();
        assert!(verifier.verify(&signer.sign(CONTENT)).is_ok());

        let path = std::env::temp_dir().join(format!("anchors-{}.pem", std::process::id()));
        std::fs::write(&path, &bundle).unwrap();
        let from_file = SignatureVerifier::from_pem_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert!(from_file.unwrap().verify(&signer.sign(CONTENT)).is_ok());
    }
}
