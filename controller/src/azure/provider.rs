//! The Site Recovery replication provider each source kind replicates with. Its name is the
//! `instanceType` discriminator of every provider-specific input and detail in the 2025-08-01
//! spec (`HyperVReplicaAzure`, `InMageRcm`, `A2A`): a typed value, so a new provider is a
//! compile error at each place that must handle it, never a silent fall-through to another's.

use cutover_api::vault::SourceKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// Hyper-V, with or without VMM.
    HyperVReplicaAzure,
    /// The modernized VMware/physical experience (appliance, process server): VMware, physical
    /// servers and AWS instances as physical servers.
    InMageRcm,
    /// Azure VMs in another region.
    A2A,
}

impl Provider {
    pub fn of(kind: SourceKind) -> Provider {
        match kind {
            SourceKind::HyperVVmm | SourceKind::HyperVSite => Provider::HyperVReplicaAzure,
            SourceKind::Vmware | SourceKind::Physical | SourceKind::Aws => Provider::InMageRcm,
            SourceKind::AzureRegion => Provider::A2A,
        }
    }

    /// The `instanceType` of the provider's inputs and details.
    pub fn instance_type(self) -> &'static str {
        match self {
            Provider::HyperVReplicaAzure => "HyperVReplicaAzure",
            Provider::InMageRcm => "InMageRcm",
            Provider::A2A => "A2A",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_kind_has_its_provider() {
        for (kind, provider) in [
            (SourceKind::HyperVVmm, "HyperVReplicaAzure"),
            (SourceKind::HyperVSite, "HyperVReplicaAzure"),
            (SourceKind::Vmware, "InMageRcm"),
            (SourceKind::Physical, "InMageRcm"),
            (SourceKind::Aws, "InMageRcm"),
            (SourceKind::AzureRegion, "A2A"),
        ] {
            assert_eq!(Provider::of(kind).instance_type(), provider, "{kind:?}");
        }
    }
}
