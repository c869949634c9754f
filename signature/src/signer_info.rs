//! One SignerInfo's signature: messageDigest over the content, contentType, and the signature
//! over the signed attributes as received (or over the content when there are none).

use der::asn1::{ObjectIdentifier as Oid, OctetStringRef};

use crate::algorithm::{self, Digest, Failure, Framing};
use crate::certificate::Certificate;
use crate::envelope::{self, RawSignerInfo, ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST};

/// Verifies `signer`'s signature by `certificate` over `content` of type `content_type`.
pub(crate) fn verify(
    signer: &RawSignerInfo,
    certificate: &Certificate,
    content: &[u8],
    content_type: Oid,
) -> Result<(), Failure> {
    let info = &signer.info;
    let scheme = algorithm::cms_scheme(&info.signature_algorithm, &info.digest_alg)?;
    let key = certificate.public_key()?;
    let signature = info.signature.as_bytes();
    let Some(attributes) = &signer.signed_attributes else {
        // RFC 5652 5.3: without signed attributes the content must be id-data.
        if content_type != ID_DATA {
            return Err(Failure::Mismatch);
        }
        return algorithm::verify(key, scheme, Framing::Cms, content, signature);
    };
    let digest = Digest::from_oid(&info.digest_alg.oid)?;
    let signed = info.signed_attrs.as_ref();
    let expected = digest.hash(content, &key.dke())?;
    let message_digest = envelope::single_attribute(signed, ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetStringRef<'_>>().ok())
        .ok_or(Failure::Mismatch)?;
    if message_digest.as_bytes() != expected.as_slice() {
        return Err(Failure::Mismatch);
    }
    let declared =
        envelope::single_attribute(signed, ID_CONTENT_TYPE).and_then(|v| v.decode_as::<Oid>().ok());
    if declared != Some(content_type) {
        return Err(Failure::Mismatch);
    }
    algorithm::verify(key, scheme, Framing::Cms, attributes, signature)
}
