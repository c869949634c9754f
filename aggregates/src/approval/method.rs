//! Which authentication method a resent code goes through, as eHealth chooses it.
//!
//! Only a person's current methods count: a method may carry `ended_at` (a THIRD_PERSON
//! authorization expires, a phone is replaced), and from that instant it is gone. When the
//! approval names its method (`authorize_with`), that method is used or the resend is refused — it
//! is never silently replaced by another. Otherwise the person's default method is chosen: an OTP
//! method first, else OFFLINE (which cannot receive a code), else a THIRD_PERSON whose confidant is
//! active and whose own default method is OTP.
//!
//! The service resolves the facts (the person, the confidants the choice may need, see
//! [`confidants_needed`]) and this module decides; it does no I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const OTP: &str = "OTP";
pub const OFFLINE: &str = "OFFLINE";
pub const THIRD_PERSON: &str = "THIRD_PERSON";

/// One authentication method of a person (MPI `person_authentication_methods`), as imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthMethod {
    pub id: Option<Uuid>,
    /// `OTP`, `OFFLINE`, `THIRD_PERSON` (anything else cannot receive a code).
    #[serde(rename = "type")]
    pub kind: String,
    pub phone_number: Option<String>,
    /// For THIRD_PERSON: the id of the confidant person.
    pub value: Option<String>,
    /// When the method stopped being the person's; absent while it is current.
    pub ended_at: Option<DateTime<Utc>>,
}

impl AuthMethod {
    pub fn is_current(&self, at: DateTime<Utc>) -> bool {
        self.ended_at.is_none_or(|ended| ended > at)
    }

    fn confidant(&self) -> Option<Uuid> {
        self.value.as_deref().and_then(|v| Uuid::parse_str(v).ok())
    }
}

/// A person as far as choosing a method goes.
#[derive(Debug, Clone, Copy)]
pub struct PersonMethods<'a> {
    pub id: Uuid,
    pub active: bool,
    pub methods: &'a [AuthMethod],
}

impl<'a> PersonMethods<'a> {
    fn current(&self, at: DateTime<Utc>) -> impl Iterator<Item = &'a AuthMethod> {
        self.methods.iter().filter(move |m| m.is_current(at))
    }

    fn current_of(&self, kind: &'static str, at: DateTime<Utc>) -> Option<&'a AuthMethod> {
        self.current(at).find(|m| m.kind == kind)
    }
}

/// The person's default method (eHealth: OTP, else OFFLINE, else the first THIRD_PERSON), among
/// the methods current at `at`.
pub fn default_method(methods: &[AuthMethod], at: DateTime<Utc>) -> Option<&AuthMethod> {
    let current = |kind: &str| methods.iter().find(|m| m.kind == kind && m.is_current(at));
    current(OTP)
        .or_else(|| current(OFFLINE))
        .or_else(|| current(THIRD_PERSON))
}

/// Where a resent code goes, as resolved from the person's authentication methods.
#[derive(Debug, Clone, PartialEq)]
pub enum OtpDelivery {
    Otp {
        phone_number: String,
    },
    ThirdPerson {
        third_person_id: Uuid,
        phone_number: String,
    },
    /// No current method that can receive a code (`method_type` says what was found, `NA` for
    /// none: informative only).
    NotAllowed {
        method_type: String,
    },
}

impl OtpDelivery {
    pub fn phone_number(&self) -> Option<&str> {
        match self {
            Self::Otp { phone_number } | Self::ThirdPerson { phone_number, .. } => {
                Some(phone_number)
            }
            Self::NotAllowed { .. } => None,
        }
    }
}

fn not_allowed(method_type: &str) -> OtpDelivery {
    OtpDelivery::NotAllowed {
        method_type: method_type.to_string(),
    }
}

/// The confidants [`otp_delivery`] may need to look at: those of the THIRD_PERSON method named by
/// `authorize_with`, or, without one, of every current THIRD_PERSON method.
pub fn confidants_needed(
    person: &PersonMethods<'_>,
    authorize_with: Option<Uuid>,
    at: DateTime<Utc>,
) -> Vec<Uuid> {
    person
        .current(at)
        .filter(|m| m.kind == THIRD_PERSON)
        .filter(|m| authorize_with.is_none_or(|id| m.id == Some(id)))
        .filter_map(AuthMethod::confidant)
        .collect()
}

/// The method a resent code goes through, and its phone (see the module documentation).
/// `confidants` holds the confidant persons that exist, as loaded for [`confidants_needed`].
pub fn otp_delivery(
    person: &PersonMethods<'_>,
    authorize_with: Option<Uuid>,
    confidants: &[PersonMethods<'_>],
    at: DateTime<Utc>,
) -> OtpDelivery {
    let Some(named) = authorize_with else {
        return default_delivery(person, confidants, at);
    };
    match person.current(at).find(|m| m.id == Some(named)) {
        // Absent or ended: the person no longer has the method the approval was made with.
        None => not_allowed("NA"),
        Some(method) => match method.kind.as_str() {
            OTP => through_phone(method),
            THIRD_PERSON => through_confidant(method, confidants, at)
                .unwrap_or_else(|| not_allowed(THIRD_PERSON)),
            other => not_allowed(other),
        },
    }
}

fn default_delivery(
    person: &PersonMethods<'_>,
    confidants: &[PersonMethods<'_>],
    at: DateTime<Utc>,
) -> OtpDelivery {
    if let Some(otp) = person.current_of(OTP, at) {
        return through_phone(otp);
    }
    if person.current_of(OFFLINE, at).is_some() {
        return not_allowed(OFFLINE);
    }
    let mut third_persons = person.current(at).filter(|m| m.kind == THIRD_PERSON);
    let Some(first) = third_persons.next() else {
        return not_allowed("NA");
    };
    std::iter::once(first)
        .chain(third_persons)
        .find_map(|m| through_confidant(m, confidants, at))
        .unwrap_or_else(|| not_allowed(THIRD_PERSON))
}

fn through_phone(method: &AuthMethod) -> OtpDelivery {
    match &method.phone_number {
        Some(phone) if !phone.is_empty() => OtpDelivery::Otp {
            phone_number: phone.clone(),
        },
        _ => not_allowed(OTP),
    }
}

/// A THIRD_PERSON method reaches its confidant when the confidant is active and their own default
/// method is OTP (an OTP method comes first in the default order, so: they have a current one).
fn through_confidant(
    method: &AuthMethod,
    confidants: &[PersonMethods<'_>],
    at: DateTime<Utc>,
) -> Option<OtpDelivery> {
    let id = method.confidant()?;
    let confidant = confidants.iter().find(|c| c.id == id && c.active)?;
    match through_phone(confidant.current_of(OTP, at)?) {
        OtpDelivery::Otp { phone_number } => Some(OtpDelivery::ThirdPerson {
            third_person_id: id,
            phone_number,
        }),
        _ => None,
    }
}
