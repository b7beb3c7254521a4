//! Condition types and reasons every cutover object reports, in `metav1.Condition` shape.

/// Summary condition of every kind: True when the object is where its spec wants it.
pub const READY: &str = "Ready";

/// kstatus (kubernetes-sigs/cli-utils `pkg/kstatus`, its README's "CRD Status Convention"):
/// True while the controller is working toward the spec.
pub const RECONCILING: &str = "Reconciling";
/// kstatus: True when the object cannot progress until a person acts.
pub const STALLED: &str = "Stalled";

/// Reasons that apply to any kind.
pub mod reason {
    /// The spec breaks a rule; the message lists each violation with its field.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// The spec is valid and being acted on.
    pub const RECONCILING: &str = "Reconciling";
}

/// RecoveryVault conditions, in the order the landing zone is built.
pub mod vault {
    /// Resource group and Recovery Services vault.
    pub const VAULT_READY: &str = "VaultReady";
    /// Replication (and log) storage accounts.
    pub const STORAGE_READY: &str = "StorageReady";
    /// Target (and test) virtual networks.
    pub const NETWORK_READY: &str = "NetworkReady";
    /// The source site is registered: fabric and protection containers exist.
    pub const SOURCE_REGISTERED: &str = "SourceRegistered";
    /// Replication policy, container mappings and network mappings.
    pub const REPLICATION_READY: &str = "ReplicationReady";

    /// A later step waits for an earlier one.
    pub const WAITING_FOR_PREREQUISITE: &str = "WaitingForPrerequisite";
    /// The source has not registered with the vault yet.
    pub const WAITING_FOR_REGISTRATION: &str = "WaitingForRegistration";
    /// Deletion with `deletionPolicy: Delete` finished, but left some of what cutover created
    /// in Azure because something else uses it or shares its resource group (migrated VMs).
    pub const PARTLY_RETAINED: &str = "PartlyRetained";
}
