//! Ids that cannot be swapped: one type per kind of entity the rules name. They are used where a
//! value crosses into the domain — commands and the inputs of the rules — so that a legal entity
//! id passed where a patient id belongs is a compile error, not a 404. Records and events keep
//! bare uuids (the read side and the stored events depend on them); the newtypes serialize as the
//! bare uuid, so nothing stored or answered changes.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn new(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A legal entity: the token's `client_id`, a service request's requester or user.
    LegalEntityId
);
id!(
    /// A user: the token's `sub`, who acts.
    UserId
);
id!(
    /// An employee (a party's position in a legal entity).
    EmployeeId
);
id!(
    /// A person of the MPI, the patient of an entity.
    PatientId
);
id!(
    /// A service request.
    ServiceRequestId
);
id!(
    /// A care plan.
    CarePlanId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_an_id_when_serialized_then_it_is_the_bare_uuid() {
        let raw = Uuid::from_u128(0x1e00_0000_0000_4000_8000_0000_0000_0001);
        let id = LegalEntityId::new(raw);
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            serde_json::to_string(&raw).unwrap()
        );
        let back: LegalEntityId = serde_json::from_value(serde_json::json!(raw)).unwrap();
        assert_eq!(back, id);
        assert_eq!(id.to_string(), raw.to_string());
        assert_eq!(Uuid::from(id), raw);
    }
}
