//! Who signed, as the service keeps it: the `ehealth-signature` crate's signer with the DRFO as a
//! domain [`Drfo`], and the look-alike rule the crate compares two DRFO of one certificate with.

use ehealth_aggregates::drfo::Drfo;

use super::Signer;

/// Whether two DRFO of one certificate (its DRFO attribute and its subject `serialNumber`) name
/// the same person: eHealth's rule for a DRFO against a tax id (spaces dropped, upper-cased,
/// Latin look-alikes taken as Cyrillic), so a passport number typed in either alphabet agrees.
pub(super) fn same_drfo(a: &str, b: &str) -> bool {
    Drfo::parse(a).is_some_and(|drfo| drfo.matches(b))
}

/// The service's signer of the crate's.
pub(super) fn signer(of: ehealth_signature::Signer) -> Signer {
    Signer {
        drfo: of.drfo.as_deref().and_then(Drfo::parse),
        edrpou: of.edrpou,
        common_name: of.common_name,
        given_name: of.given_name,
        surname: of.surname,
        organization_name: of.organization_name,
        organizational_unit_name: of.organizational_unit_name,
        title: of.title,
        country_name: of.country_name,
        locality_name: of.locality_name,
        state_or_province_name: of.state_or_province_name,
    }
}
