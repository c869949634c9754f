//! Verify-only DSTU 4145-2002: the Ukrainian elliptic-curve digital signature over GF(2^m) in the
//! polynomial basis, as qualified electronic signatures (КЕП) in Ukraine use it.
//!
//! - [`Curve`]: the ten curves of the standard, by OID ([`Curve::named`]) or by explicit parameters
//!   that match one of them ([`Curve::from_explicit`]); anything else is refused.
//! - [`PublicKey`]: a compressed or affine point, checked to be on the curve and of order n.
//! - [`Signature`], [`HashValue`], [`verify`]: section 13, with the byte orders of the PKI.
//! - [`KeyParams`], [`SubjectPublicKey`]: the DER of key parameters (named or explicit, with the
//!   DKE) and of a SubjectPublicKeyInfo, for `der` 0.7 / `spki` 0.7 / `x509-cert` 0.2.
//! - [`gost34311`], [`kupyna256`], [`SignatureAlgorithm`]: the hashes and the algorithm OIDs.
//!
//! No signing, no private keys, no `unsafe`; malformed input is an [`Error`], never a panic.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod curve;
mod digest;
mod error;
mod field;
mod named;
pub mod oid;
mod params;
mod point;
mod signature;

pub use curve::{Curve, ExplicitParams};
/// The `der` crate this API speaks (`ObjectIdentifier`, `BitStringRef`).
pub use der;
pub use digest::{gost34311, kupyna256, SignatureAlgorithm};
pub use error::Error;
pub use params::{key_byte_order, Dke, KeyParams, SubjectPublicKey};
pub use signature::{verify, ByteOrder, HashValue, PublicKey, Signature};
