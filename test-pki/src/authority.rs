//! A DSTU 4145 authority working whole (root, signers, TSA, CRL) on [`crate::dstu`]'s pieces.

use crate::der_writer::{printable, utf8};
use crate::dstu::{
    ca_extensions, certificate, crl, name, rdn, signed_data, signer_extensions, signer_info, token,
    tsa_extensions, Hash, Issued, Key, SignerInfoParts,
};

/// A signer [`Authority::issue_signer`] certified: its key and certificate.
pub struct DstuSigner {
    key: Key,
    pub certificate: Issued,
}

/// An unstamped envelope of `content` by `key` with its certificate.
fn envelope(
    key: &mut Key,
    certificate: &Issued,
    issuer: &[u8],
    content: &[u8],
    hash: Hash,
) -> Vec<u8> {
    let info = signer_info(SignerInfoParts {
        key,
        certificate,
        issuer,
        hash,
        content,
        content_type: "1.2.840.113549.1.7.1",
        extra_signed: Vec::new(),
    });
    signed_data(
        hash,
        "1.2.840.113549.1.7.1",
        content,
        &[&certificate.der],
        info,
    )
}

/// A DSTU 4145 authority for tests that need one working whole: a root (GOST 34.311), a signer
/// with the DRFO attribute and `TINUA-` serialNumber, a TSA the root certified for timeStamping,
/// all on the 257-bit curve with keys from `seed`.
pub struct Authority {
    root_key: Key,
    pub root: Issued,
    pub root_name: Vec<u8>,
    signer_key: Key,
    pub signer: Issued,
    tsa_key: Key,
    pub tsa: Issued,
    validity: (u64, u64),
}

impl Authority {
    /// Valid from a day before `now` (Unix seconds) for a year.
    pub fn new(seed: u64, drfo: &str, now: u64) -> Authority {
        let validity = (now - 86_400, now + 365 * 86_400);
        let mut root_key = Key::new(seed);
        let root_name = name(
            "Тестовий ЦСК ДСТУ",
            &[rdn("2.5.4.5", printable("UA-00000000"))],
        );
        let root_spki = root_key.spki.clone();
        let root = certificate(
            &mut root_key,
            &root_name,
            &root_name,
            &root_spki,
            &[1],
            validity,
            &ca_extensions(),
            Hash::Gost,
        );
        let signer_key = Key::new(seed + 1);
        let signer_name = name(
            "Лікар ДСТУ",
            &[
                rdn("2.5.4.4", utf8("Лікар")),
                rdn("2.5.4.42", utf8("ДСТУ")),
                rdn("2.5.4.5", printable(&format!("TINUA-{drfo}"))),
            ],
        );
        let signer = certificate(
            &mut root_key,
            &root_name,
            &signer_name,
            &signer_key.spki,
            &[2],
            validity,
            &signer_extensions(drfo),
            Hash::Gost,
        );
        let tsa_key = Key::new(seed + 2);
        let tsa = certificate(
            &mut root_key,
            &root_name,
            &name("Тестовий TSP ДСТУ", &[]),
            &tsa_key.spki,
            &[3],
            validity,
            &tsa_extensions(),
            Hash::Gost,
        );
        Authority {
            root_key,
            root,
            root_name,
            signer_key,
            signer,
            tsa_key,
            tsa,
            validity,
        }
    }

    /// `content` signed by the signer with `hash` (GOST 34.311 or Kupyna-256), with a signature
    /// timestamp by the TSA at `gen_time`, in DER.
    pub fn sign(&mut self, content: &[u8], hash: Hash, gen_time: u64) -> Vec<u8> {
        let envelope = envelope(
            &mut self.signer_key,
            &self.signer,
            &self.root_name,
            content,
            hash,
        );
        self.stamped(envelope, gen_time)
    }

    /// Another signer of the root (serial `serial`, key from `seed`, the DRFO attribute and
    /// `TINUA-` serialNumber as the main signer's), whose key parameters carry `dke`.
    pub fn issue_signer(
        &mut self,
        seed: u64,
        serial: u8,
        drfo: &str,
        dke: &[u8; 64],
    ) -> DstuSigner {
        let key = Key::with_dke(seed, Some(dke));
        let subject = name(
            "Лікар ДСТУ (інший ДКЕ)",
            &[rdn("2.5.4.5", printable(&format!("TINUA-{drfo}")))],
        );
        let certificate = certificate(
            &mut self.root_key,
            &self.root_name,
            &subject,
            &key.spki,
            &[serial],
            self.validity,
            &signer_extensions(drfo),
            Hash::Gost,
        );
        DstuSigner { key, certificate }
    }

    /// `content` signed by `signer` (one of [`Authority::issue_signer`]'s) with `hash`, stamped
    /// by the TSA at `gen_time`, in DER.
    pub fn sign_as(
        &mut self,
        signer: &mut DstuSigner,
        content: &[u8],
        hash: Hash,
        gen_time: u64,
    ) -> Vec<u8> {
        let envelope = envelope(
            &mut signer.key,
            &signer.certificate,
            &self.root_name,
            content,
            hash,
        );
        self.stamped(envelope, gen_time)
    }

    fn stamped(&mut self, envelope: Vec<u8>, gen_time: u64) -> Vec<u8> {
        let stamp = token(
            &mut self.tsa_key,
            &self.tsa,
            &self.root_name,
            &crate::cms::signature_value(&envelope),
            gen_time,
        );
        crate::cms::with_signature_timestamp(&envelope, &stamp)
    }

    /// The root's fresh CRL (this update an hour before `now`, next update a week after).
    pub fn crl(&mut self, now: u64) -> Vec<u8> {
        crl(
            &mut self.root_key,
            &self.root_name,
            now - 3600,
            now + 7 * 86_400,
            &[],
        )
    }
}
