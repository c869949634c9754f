//! Documentation-only types: the shapes the handlers build as `serde_json::Value`, described for
//! the OpenAPI document. Nothing constructs them; they exist so that utoipa can derive schemas
//! from real Rust declarations next to the API instead of from hand-written JSON.
//!
//! Entity schemas name the fields the service renders itself and leave the object open
//! (`additionalProperties` is not restricted), because fields the import carried but the service
//! does not interpret are rendered back unchanged.

mod audit;
mod entities;
pub mod enums;
mod envelope;
mod operations;

pub use entities::*;
pub use enums::CarePlanActivityStatus;
pub use envelope::*;
