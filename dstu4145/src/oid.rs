//! Object identifiers of the Ukrainian PKI used with DSTU 4145 (arc 1.2.804.2.1.1.1.1).

use der::asn1::ObjectIdentifier;

/// DSTU 4145-2002 with GOST 34.311-95, polynomial basis, little-endian encodings (the one in use).
pub const DSTU4145_PB_LE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.804.2.1.1.1.1.3.1.1");

/// DSTU 4145-2002 with GOST 34.311-95, polynomial basis, big-endian encodings.
pub const DSTU4145_PB_BE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.804.2.1.1.1.1.3.1.1.1.1");

/// DSTU 4145-2002 with GOST 34.311-95, optimal normal basis (little-endian): refused.
pub const DSTU4145_ONB_LE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.804.2.1.1.1.1.3.1.2");

/// DSTU 4145-2002 with GOST 34.311-95, optimal normal basis, big-endian: refused.
pub const DSTU4145_ONB_BE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.804.2.1.1.1.1.3.1.2.1.1");

/// DSTU 4145-2002 with DSTU 7564 (Kupyna-256), polynomial basis, little-endian: a certificate's
/// signature algorithm (the key's algorithm stays [`DSTU4145_PB_LE`]).
pub const DSTU4145_KUPYNA256_LE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.804.2.1.1.1.1.3.6.1.1");

/// The named curves: this arc followed by 0 … 9.
pub const NAMED_CURVE_ARC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.804.2.1.1.1.1.3.1.1.2");

/// GOST 34.311-95 (digest algorithm).
pub const GOST34311: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.804.2.1.1.1.1.2.1");

/// DSTU 7564:2014 (Kupyna), 256-bit output (digest algorithm).
pub const KUPYNA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.804.2.1.1.1.1.2.2.1");
