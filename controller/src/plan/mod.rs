//! MigrationPlan: creates and owns machines from templates, releases them wave by wave and
//! through the cutover gate, and reports the plan's progress.

pub mod hooks;
pub mod orchestrate;
pub mod preflight;
pub mod reconcile;
