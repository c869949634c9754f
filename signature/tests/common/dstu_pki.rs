//! A DSTU 4145 PKI made by the independent `ua-cryptography-dstu4145`: a CA, a signer (with a
//! DRFO) and a TSA, and the envelopes, tokens, CRLs and verifiers built from them.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use super::der_writer::*;
use super::dstu::{self, Hash, Issued, Key, SignerInfoParts};
use super::*;
use ehealth_signature::{Certificate, Refusal, RevocationStore, Settings, TrustStore, Verifier};

pub const CONTENT: &[u8] = br#"{"id":"c1d2","status":"active"}"#;
pub const DAY: u64 = 86_400;

pub struct Pki {
    pub ca_key: Key,
    pub ca_name: Vec<u8>,
    pub ca: Issued,
    pub signer_key: Key,
    pub signer: Issued,
    pub tsa_key: Key,
    pub tsa: Issued,
    pub now: u64,
}

pub fn pki(hash: Hash) -> Pki {
    let now = now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let validity = (now - 30 * DAY, now + 365 * DAY);
    let mut ca_key = Key::new(1);
    let ca_name = dstu::name(
        "Тестовий ЦСК ДСТУ",
        &[dstu::rdn("2.5.4.5", printable("UA-00000000"))],
    );
    let ca_spki = ca_key.spki.clone();
    let ca = dstu::certificate(
        &mut ca_key,
        &ca_name,
        &ca_name,
        &ca_spki,
        &[1],
        validity,
        &dstu::ca_extensions(),
        hash,
    );
    let signer_key = Key::new(2);
    let subject = dstu::name(
        "Петренко Іван",
        &[
            dstu::rdn("2.5.4.4", utf8("Петренко")),
            dstu::rdn("2.5.4.42", utf8("Іван")),
            dstu::rdn("2.5.4.5", printable("TINUA-1234567890")),
        ],
    );
    let signer = dstu::certificate(
        &mut ca_key,
        &ca_name,
        &subject,
        &signer_key.spki,
        &[0x10, 0x01],
        validity,
        &dstu::signer_extensions("1234567890"),
        hash,
    );
    let tsa_key = Key::new(3);
    let tsa = dstu::certificate(
        &mut ca_key,
        &ca_name,
        &dstu::name("Тестовий TSP", &[]),
        &tsa_key.spki,
        &[0x10, 0x02],
        validity,
        &dstu::tsa_extensions(),
        Hash::Gost,
    );
    Pki {
        ca_key,
        ca_name,
        ca,
        signer_key,
        signer,
        tsa_key,
        tsa,
        now,
    }
}

impl Pki {
    pub fn envelope(&mut self, hash: Hash, content: &[u8], extra_signed: Vec<Vec<u8>>) -> Vec<u8> {
        let info = dstu::signer_info(SignerInfoParts {
            key: &mut self.signer_key,
            certificate: &self.signer,
            issuer: &self.ca_name,
            hash,
            content,
            content_type: "1.2.840.113549.1.7.1",
            extra_signed,
        });
        dstu::signed_data(
            hash,
            "1.2.840.113549.1.7.1",
            content,
            &[&self.signer.der, &self.ca.der],
            info,
        )
    }

    /// The envelope with a signature timestamp by the DSTU TSA, a minute before now.
    pub fn stamped(&mut self, hash: Hash) -> Vec<u8> {
        let envelope = self.envelope(hash, CONTENT, Vec::new());
        let signature = split(at(&envelope, &[1, 0, -1, 0, 5])).1.to_vec();
        let token = self.token(&signature);
        with_signature_timestamp(&envelope, &token)
    }

    pub fn token(&mut self, imprinted: &[u8]) -> Vec<u8> {
        dstu::token(
            &mut self.tsa_key,
            &self.tsa,
            &self.ca_name,
            imprinted,
            self.now - 60,
        )
    }

    pub fn crl(&mut self, revoked: &[&[u8]]) -> RevocationStore {
        let store = RevocationStore::new();
        let der = dstu::crl(
            &mut self.ca_key,
            &self.ca_name,
            self.now - DAY,
            self.now + DAY,
            revoked,
        );
        store.add(&der).unwrap();
        store
    }

    pub fn verifier(&mut self, revoked: &[&[u8]]) -> Verifier {
        let mut trust = TrustStore::new();
        trust.add_anchors(vec![Certificate::from_der(&self.ca.der).unwrap()]);
        Verifier::new(
            Arc::new(trust),
            Arc::new(self.crl(revoked)),
            Settings::default(),
        )
    }

    pub fn refusal(&mut self, envelope: &[u8]) -> Option<Refusal> {
        let verified = self.verifier(&[]).verify_der(envelope, now()).unwrap();
        verified.signatures[0].refusal.clone()
    }
}
