//! Test fixtures for the signature verifier and the service's black-box tests, shared instead of
//! copied: [`der_writer`] builds and edits DER by hand, [`cms`] splices timestamp tokens into
//! envelopes and assembles certificate bundles, [`dstu`] is a DSTU 4145 PKI signed by the
//! independent `ua-cryptography-dstu4145`. Never a dependency of anything but tests.

mod authority;
pub mod cms;
pub mod der_writer;
pub mod dstu;
