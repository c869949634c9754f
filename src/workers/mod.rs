//! Durable background work: the effects worker reads the ordered feed and does what the specs call
//! processing that talks to the outside; the SMS dispatcher delivers queued messages.

pub mod effects;
mod give_back;
mod recall;
mod spell;

pub(crate) use spell::FailureSpell;
