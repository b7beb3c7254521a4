//! Azure Resource Manager through azure_core's pipeline: credentials from azure_identity, a
//! transport that can trust a private CA (the simulator, a proxy), ARM's error classes, a
//! client-side request budget per subscription, request counting, paging and the headers of
//! long-running operations. Reconcilers use the typed operations in [`resources`] and never
//! build URLs.

pub mod addresses;
pub mod budget;
pub mod capacity;
pub mod certificate;
pub mod client;
pub mod credentials;
pub mod error;
pub mod lro;
pub mod models;
pub mod provider;
pub mod resources;
pub mod stats;
pub mod target;

pub use client::{ArmArgs, ArmClient, ArmSettings};
pub use error::{ArmError, ErrorClass};
pub use provider::Provider;
