//! RFC 3161 timestamp tokens: a SignedData over a TSTInfo, signed by a TSA whose certificate is
//! configured or chains to the anchors with the timeStamping extended key usage.

use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Tag};
use ehealth_dstu4145::Dke;
use spki::AlgorithmIdentifierOwned;

use crate::algorithm::Digest;
use crate::certificate::Certificate;
use crate::chain::{self, Purpose};
use crate::envelope::{self, RawSignerInfo};
use crate::error::Refusal;
use crate::signer_info;
use crate::tlv;
use crate::trust::TrustStore;

const ID_CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// The parts of a TSTInfo this verifier uses.
struct TstInfo {
    imprint_algorithm: AlgorithmIdentifierOwned,
    imprint: Vec<u8>,
    gen_time: u64,
}

fn parse_tst_info(der: &[u8]) -> Option<TstInfo> {
    let outer = tlv::single(der)?;
    if outer.tag != Tag::Sequence {
        return None;
    }
    // version, policy, messageImprint, serialNumber, genTime, …
    let fields = tlv::children(outer.content)?;
    let [version, policy, imprint, serial, gen_time, ..] = fields.as_slice() else {
        return None;
    };
    if version.tag != Tag::Integer
        || policy.tag != Tag::ObjectIdentifier
        || imprint.tag != Tag::Sequence
        || serial.tag != Tag::Integer
        || gen_time.tag != Tag::GeneralizedTime
    {
        return None;
    }
    let imprint_parts = tlv::children(imprint.content)?;
    let [algorithm, hashed] = imprint_parts.as_slice() else {
        return None;
    };
    if hashed.tag != Tag::OctetString {
        return None;
    }
    Some(TstInfo {
        imprint_algorithm: AlgorithmIdentifierOwned::from_der(algorithm.raw).ok()?,
        imprint: hashed.content.to_vec(),
        gen_time: crate::time::parse_generalized_time(gen_time.content)?,
    })
}

/// Verifies `token` as a timestamp of `imprinted` (a signature value or the content); returns
/// its time. `extra` are the envelope's certificates, usable as intermediates.
pub(crate) fn verify_token(
    token: &[u8],
    imprinted: &[u8],
    trust: &TrustStore,
    extra: &[&Certificate],
    now: u64,
    skew: u64,
) -> Result<u64, Refusal> {
    let signed = envelope::parse(token).map_err(|_| Refusal::TimestampUnreadable)?;
    let content = signed
        .content
        .as_deref()
        .ok_or(Refusal::TimestampUnreadable)?;
    if signed.content_type != ID_CT_TST_INFO {
        return Err(Refusal::TimestampUnreadable);
    }
    let tst = parse_tst_info(content).ok_or(Refusal::TimestampUnreadable)?;
    let [Some(signer)] = signed.signer_infos.as_slice() else {
        return Err(Refusal::TimestampUnreadable);
    };
    let (tsa, configured) = find_tsa(signer, &signed.certificates, trust)?;

    signer_info::verify(signer, tsa, content, ID_CT_TST_INFO)
        .map_err(|f| f.into_refusal(Refusal::TimestampInvalid))?;
    let digest = Digest::from_oid(&tst.imprint_algorithm.oid)?;
    if digest.hash(imprinted, &Dke::DEFAULT)? != tst.imprint {
        return Err(Refusal::TimestampInvalid);
    }

    if configured {
        chain::check_validity(
            &[tsa],
            tst.gen_time,
            Refusal::TsaNotTrusted,
            Refusal::TsaNotTrusted,
        )?;
    } else {
        let mut pool: Vec<&Certificate> = signed.certificates.iter().collect();
        pool.extend_from_slice(extra);
        let path = chain::build(tsa, &pool, &trust.anchors).map_err(|_| Refusal::TsaNotTrusted)?;
        chain::check_structure(&path, Purpose::TimeStamping).map_err(|_| Refusal::TsaNotTrusted)?;
        chain::check_validity(
            &path,
            tst.gen_time,
            Refusal::TsaNotTrusted,
            Refusal::TsaNotTrusted,
        )?;
    }
    if tst.gen_time > now.saturating_add(skew) {
        return Err(Refusal::TimestampInFuture);
    }
    Ok(tst.gen_time)
}

/// The TSA's certificate: a configured one (trusted as such) or one from the token.
fn find_tsa<'a>(
    signer: &RawSignerInfo,
    in_token: &'a [Certificate],
    trust: &'a TrustStore,
) -> Result<(&'a Certificate, bool), Refusal> {
    if let Some(c) = trust
        .tsa
        .iter()
        .find(|c| envelope::identifies(&signer.info.sid, c))
    {
        return Ok((c, true));
    }
    in_token
        .iter()
        .find(|c| envelope::identifies(&signer.info.sid, c))
        .map(|c| (c, false))
        .ok_or(Refusal::TsaNotTrusted)
}
