//! ReplicatedMachine: its lifecycle, decided by [`lifecycle::decide`] from what ASR reports.

pub mod eligibility;
pub mod lifecycle;
pub mod observe;
pub mod reconcile;
