//! cutover: the controller that migrates servers to Azure with Azure Site Recovery.

pub mod azure;
pub mod crd_yaml;
