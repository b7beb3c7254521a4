//! cutover: the controller that migrates servers to Azure with Azure Site Recovery.

pub mod azure;
pub mod conditions;
pub mod context;
pub mod crd_yaml;
pub mod endpoints;
pub mod error;
pub mod finalize;
pub mod kstatus;
pub mod kubectl;
pub mod leader;
pub mod lists;
pub mod machine;
pub mod metrics;
pub mod plan;
pub mod policy;
pub mod preview;
pub mod relations;
pub mod run;
pub mod status;
pub mod vault;
pub mod webhook;
