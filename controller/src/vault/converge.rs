//! Converging a landing zone, in dependency order: resource group and vault, storage,
//! networks, the source site, then replication (policy, container and network mappings).
//! Each step GETs what Azure has and compares it with the spec; it writes only when they
//! differ, and a pass makes at most one write before it yields (the next pass observes its
//! effect). Adopted (`existingId`) resources are only read.

use cutover_api::common::AzureResource;
use cutover_api::conditions::vault::*;
use cutover_api::vault::{
    ArmOperation, OperationFailure, RecoveryVault, SourceKind, SourceSite, VaultResources,
    VirtualNetworkProperties,
};
use serde_json::{Value, json};

use crate::azure::resources::{self as arm, MICROSOFT_AZURE, Resource, Scope};
use crate::azure::{ArmClient, ArmError, Provider};
use crate::conditions::Observed;

/// Where one step stands.
enum Step {
    /// Converged; the message says what exists.
    Ready(String),
    /// Something is in flight (a write was made, or Azure is provisioning): look again soon.
    InProgress(&'static str, String),
    /// Waiting on something outside cutover (a source to register): look again later.
    Waiting(&'static str, String),
    /// The spec cannot be met as written (a resource in the wrong region, an adopted resource
    /// that does not exist): wait for a change.
    Blocked(&'static str, String),
}

/// What one pass found and did.
pub struct Outcome {
    pub conditions: Vec<Observed>,
    pub resources: VaultResources,
    /// Something is in flight: poll again soon rather than at the resync interval.
    pub in_progress: bool,
    /// How long the operation being followed asked to be left alone (its `Retry-After`).
    pub retry_after: Option<std::time::Duration>,
}

struct Pass<'a> {
    arm: &'a ArmClient,
    /// `namespace/name` of the vault, tagged on what it creates.
    owner: String,
    vault: &'a RecoveryVault,
    scope: Scope,
    vault_id: String,
    resources: VaultResources,
    retry_after: Option<std::time::Duration>,
}

pub async fn converge(arm: &ArmClient, vault: &RecoveryVault) -> Result<Outcome, ArmError> {
    let scope = scope_of(vault);
    let vault_id = vault_id(vault, &scope);
    let previous = vault
        .status
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    let owner = format!(
        "{}/{}",
        vault.metadata.namespace.as_deref().unwrap_or_default(),
        vault.metadata.name.as_deref().unwrap_or_default()
    );
    let mut pass = Pass {
        arm,
        owner,
        vault,
        scope,
        vault_id,
        resources: VaultResources {
            resource_group_created: previous.resource_group_created,
            operation: previous.operation.filter(|o| !o.url.is_empty()),
            ..Default::default()
        },
        retry_after: None,
    };

    // Prerequisites that need Azure are checked before the first write.
    if let Some((type_, reason, message)) = pass.preflight().await? {
        let mut conditions = vec![Observed::not_ready(type_, reason, message)];
        for later in [
            VAULT_READY,
            STORAGE_READY,
            NETWORK_READY,
            SOURCE_REGISTERED,
            REPLICATION_READY,
        ]
        .into_iter()
        .filter(|t| *t != type_)
        {
            conditions.push(Observed::not_ready(
                later,
                WAITING_FOR_PREREQUISITE,
                format!("waits for {type_}"),
            ));
        }
        return Ok(Outcome {
            conditions,
            resources: pass.resources,
            in_progress: false,
            retry_after: None,
        });
    }
    let mut conditions = Vec::new();
    let mut blocked_by: Option<&'static str> = None;
    let mut in_progress = false;
    for type_ in [
        VAULT_READY,
        STORAGE_READY,
        NETWORK_READY,
        SOURCE_REGISTERED,
        REPLICATION_READY,
    ] {
        if let Some(earlier) = blocked_by {
            conditions.push(Observed::not_ready(
                type_,
                WAITING_FOR_PREREQUISITE,
                format!("waits for {earlier}"),
            ));
            continue;
        }
        let step = match type_ {
            VAULT_READY => pass.vault_step().await?,
            STORAGE_READY => pass.storage_step().await?,
            NETWORK_READY => pass.network_step().await?,
            SOURCE_REGISTERED => pass.source_step().await?,
            _ => pass.replication_step().await?,
        };
        let observed = match step {
            Step::Ready(message) => Observed::ready(type_, "Ready", message),
            Step::InProgress(reason, message) => {
                in_progress = true;
                Observed::not_ready(type_, reason, message)
            }
            Step::Waiting(reason, message) | Step::Blocked(reason, message) => {
                Observed::not_ready(type_, reason, message)
            }
        };
        if !observed.status {
            blocked_by = Some(type_);
        }
        conditions.push(observed);
    }
    Ok(Outcome {
        conditions,
        resources: pass.resources,
        in_progress,
        retry_after: pass.retry_after,
    })
}

/// The subscription and resource group of a landing zone.
pub fn scope_of(vault: &RecoveryVault) -> Scope {
    Scope {
        subscription: vault.spec.subscription_id.clone(),
        resource_group: vault.spec.resource_group.clone(),
    }
}

/// The vault's ARM ID: the one cutover creates, or the adopted one.
pub fn vault_id(vault: &RecoveryVault, scope: &Scope) -> String {
    match &vault.spec.vault {
        AzureResource::Create(v) => scope.vault_id(&v.name),
        AzureResource::ExistingId(id) => id.0.clone(),
    }
}

/// The refusal to take over a same-named resource cutover did not create for this vault.
fn not_owned(what: &str, resource: &Resource) -> String {
    format!(
        "a {what} named {} already exists and was not created by cutover for this vault: adopt it with existingId, or choose another name",
        resource.name
    )
}

/// The refusal of a resource that is not in the vault's region (DESIGN.md's prerequisite).
fn wrong_region(what: &str, resource: &Resource, region: &str) -> String {
    format!(
        "the {what} {} is in {}; it must be in the vault's region {region}",
        resource.name,
        resource.location.as_deref().unwrap_or("no region")
    )
}

/// Whether a vault's SKU is the Standard tier cutover asks for. `Standard` and `RS0` are one
/// SKU: a PUT of `{"name": "Standard"}` is answered `{"name": "RS0", "tier": "Standard"}`
/// (PUTVault.json, 2025-02-01), so comparing names would PUT again on every pass.
fn is_standard_tier(reported: Option<&str>) -> bool {
    reported.is_some_and(|name| {
        name.eq_ignore_ascii_case("Standard") || name.eq_ignore_ascii_case("RS0")
    })
}

/// How long a write whose ARM operation failed is left alone before cutover writes it again
/// (at once when the spec changes): Azure's error is in status meanwhile, not retried blindly.
const FAILED_OPERATION_RETRY: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// A resource whose last create or update ended `Failed` or `Canceled` (ARM's terminal
/// `provisioningState`s other than `Succeeded`): its state.
fn provisioning_failed(resource: &Resource) -> Option<String> {
    resource
        .provisioning_state()
        .filter(|state| {
            crate::azure::lro::is_terminal(state) && !state.eq_ignore_ascii_case("Succeeded")
        })
        .map(str::to_owned)
}

fn region_matches(resource: &Resource, region: &str) -> bool {
    resource
        .location
        .as_deref()
        .is_some_and(|l| l.replace(' ', "").eq_ignore_ascii_case(region))
}

fn provisioning(resource: &Resource) -> Option<String> {
    match resource.provisioning_state() {
        Some(state) if !state.eq_ignore_ascii_case("Succeeded") => Some(state.to_owned()),
        _ => None,
    }
}

impl Pass<'_> {
    fn region(&self) -> &str {
        &self.vault.spec.region
    }

    /// Records the operation a write on `id` started, to follow it on the next passes.
    fn started(&mut self, id: &str, accepted: &crate::azure::client::Accepted) {
        let polling = &accepted.polling;
        self.resources.operation = match (&polling.async_operation, &polling.location) {
            (Some(url), _) => Some((url.to_string(), true)),
            (None, Some(url)) => Some((url.to_string(), false)),
            (None, None) => None,
        }
        .map(|(url, async_operation)| ArmOperation {
            resource_id: id.to_owned(),
            url,
            async_operation,
            failure: None,
        });
    }

    /// Follows the operation cutover started on `id`, if any: waits while it runs; when it
    /// ended `Failed`, says so with Azure's code and message, and writes again only after
    /// [`FAILED_OPERATION_RETRY`] or when the spec changes.
    async fn follow(&mut self, id: &str, what: &str) -> Result<Option<Step>, ArmError> {
        let Some(operation) = self
            .resources
            .operation
            .clone()
            .filter(|o| o.resource_id.eq_ignore_ascii_case(id))
        else {
            return Ok(None);
        };
        let generation = self.vault.metadata.generation.unwrap_or_default();
        let blocked = |failure: &OperationFailure| {
            let failed_at: jiff::Timestamp = failure
                .failed_at
                .parse()
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let retry_at = failed_at
                .checked_add(FAILED_OPERATION_RETRY)
                .unwrap_or(failed_at);
            (failure.generation == generation && jiff::Timestamp::now() < retry_at).then(|| {
                Step::Blocked(
                    "AzureOperationFailed",
                    format!(
                        "{what} failed in Azure: {}: {}; cutover writes it again after {retry_at}, or when the spec changes",
                        failure.code, failure.message
                    ),
                )
            })
        };
        if let Some(failure) = &operation.failure {
            let step = blocked(failure);
            if step.is_none() {
                self.resources.operation = None;
            }
            return Ok(step);
        }
        match self
            .arm
            .operation_status(&operation.url, operation.async_operation)
            .await?
        {
            crate::azure::lro::OperationStatus::Running { retry_after } => {
                self.retry_after = retry_after;
                Ok(Some(Step::InProgress(
                    "WaitingForAzure",
                    format!("{what}: Azure's operation is running"),
                )))
            }
            crate::azure::lro::OperationStatus::Succeeded
            | crate::azure::lro::OperationStatus::Unknown => {
                self.resources.operation = None;
                Ok(None)
            }
            crate::azure::lro::OperationStatus::Failed { code, message } => {
                let failure = OperationFailure {
                    code,
                    message,
                    failed_at: jiff::Timestamp::now().to_string(),
                    generation,
                };
                let step = blocked(&failure);
                self.resources.operation = Some(ArmOperation {
                    failure: Some(failure),
                    ..operation
                });
                Ok(step)
            }
        }
    }

    /// The region an Azure-to-Azure source's VMs run in.
    fn source_region(&self) -> Option<String> {
        match &self.vault.spec.source {
            SourceSite::AzureRegion(source) => Some(source.region.clone()),
            _ => None,
        }
    }

    /// The resource providers the landing zone needs are registered in the subscription, before
    /// the first write (afterwards a write refused with `MissingSubscriptionRegistration` says so).
    async fn provider_preflight(
        &self,
    ) -> Result<Option<(&'static str, &'static str, String)>, ArmError> {
        if self
            .vault
            .status
            .as_ref()
            .is_some_and(|s| s.provisioned.is_some())
        {
            return Ok(None);
        }
        let spec = &self.vault.spec;
        let creates_storage = matches!(spec.storage.replication, AzureResource::Create(_))
            || matches!(spec.storage.log, Some(AzureResource::Create(_)))
            || matches!(spec.storage.cache, Some(AzureResource::Create(_)));
        let creates_network = matches!(spec.network.target, AzureResource::Create(_))
            || matches!(spec.network.test, Some(AzureResource::Create(_)));
        let needed = [
            (
                "Microsoft.RecoveryServices",
                true,
                "the vault and Site Recovery",
            ),
            ("Microsoft.Storage", creates_storage, "the storage accounts"),
            ("Microsoft.Network", creates_network, "the virtual networks"),
            ("Microsoft.Compute", true, "the VMs that failover creates"),
        ];
        for (namespace, _, why) in needed.into_iter().filter(|(_, needed, _)| *needed) {
            let state =
                arm::provider_registration(self.arm, &spec.subscription_id, namespace).await?;
            if state.as_deref() != Some("Registered") {
                return Ok(Some((
                    VAULT_READY,
                    "ProviderNotRegistered",
                    format!(
                        "subscription {} is not registered for {namespace} ({}), which {why} need: an administrator registers it (az provider register --namespace {namespace}, or Register-AzResourceProvider)",
                        spec.subscription_id,
                        state.as_deref().unwrap_or("unknown"),
                    ),
                )));
            }
        }
        Ok(None)
    }

    /// Adopted storage accounts and networks must exist and be in the vault's region.
    async fn preflight(&self) -> Result<Option<(&'static str, &'static str, String)>, ArmError> {
        if let Some(unregistered) = self.provider_preflight().await? {
            return Ok(Some(unregistered));
        }
        let spec = &self.vault.spec;
        let source_region = self.source_region();
        let storage = [
            (
                "replication storage account",
                Some(&spec.storage.replication),
                self.region(),
            ),
            (
                "log storage account",
                spec.storage.log.as_ref(),
                self.region(),
            ),
            (
                "cache storage account",
                spec.storage.cache.as_ref(),
                source_region.as_deref().unwrap_or(self.region()),
            ),
        ];
        for (what, wanted, region) in storage {
            if let Some(AzureResource::ExistingId(id)) = wanted {
                match arm::get(self.arm, &id.0, arm::STORAGE_API).await? {
                    None => {
                        return Ok(Some((
                            STORAGE_READY,
                            "StorageNotFound",
                            format!("the {what} {id} does not exist"),
                        )));
                    }
                    Some(account) if !region_matches(&account, region) => {
                        return Ok(Some((
                            STORAGE_READY,
                            "StorageInWrongRegion",
                            wrong_region(what, &account, region),
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        let networks = [
            ("target network", Some(&spec.network.target)),
            ("test network", spec.network.test.as_ref()),
        ];
        for (what, wanted) in networks {
            if let Some(AzureResource::ExistingId(id)) = wanted {
                match arm::get(self.arm, &id.0, arm::NETWORK_API).await? {
                    None => {
                        return Ok(Some((
                            NETWORK_READY,
                            "NetworkNotFound",
                            format!("the {what} {id} does not exist"),
                        )));
                    }
                    Some(vnet) if !region_matches(&vnet, self.region()) => {
                        return Ok(Some((
                            NETWORK_READY,
                            "NetworkInWrongRegion",
                            wrong_region(what, &vnet, self.region()),
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(None)
    }

    async fn vault_step(&mut self) -> Result<Step, ArmError> {
        let spec = &self.vault.spec;
        match arm::get(self.arm, &self.scope.group_id(), arm::RESOURCES_API).await? {
            None => {
                arm::put_resource_group(self.arm, &self.scope, self.region(), &self.owner).await?;
                self.resources.resource_group_created = true;
                return Ok(Step::InProgress(
                    "CreatingResourceGroup",
                    format!("creating resource group {}", spec.resource_group),
                ));
            }
            Some(group) => self.resources.resource_group_id = Some(group.id),
        }
        let id = self.vault_id.clone();
        if let Some(step) = self.follow(&id, "the Recovery Services vault").await? {
            return Ok(step);
        }
        let found = arm::get(self.arm, &id, arm::RECOVERY_SERVICES_API).await?;
        match (&spec.vault, found) {
            (AzureResource::Create(v), None) => {
                let redundancy = format!("{:?}", v.storage_redundancy);
                let sku = format!("{:?}", v.sku);
                let accepted =
                    arm::put_vault(self.arm, &id, self.region(), &sku, &redundancy, &self.owner)
                        .await?;
                self.started(&id, &accepted);
                Ok(Step::InProgress(
                    "CreatingVault",
                    format!("creating Recovery Services vault {}", v.name),
                ))
            }
            (AzureResource::ExistingId(_), None) => Ok(Step::Blocked(
                "VaultNotFound",
                format!("the vault {id} named in spec.vault.existingId does not exist"),
            )),
            (AzureResource::Create(_), Some(vault)) if !vault.owned_by(&self.owner) => {
                Ok(Step::Blocked("NotOwned", not_owned("vault", &vault)))
            }
            (_, Some(vault)) if !region_matches(&vault, self.region()) => Ok(Step::Blocked(
                "VaultInWrongRegion",
                format!(
                    "the vault {id} is in {}, not in spec.region {}",
                    vault.location.unwrap_or_default(),
                    self.region()
                ),
            )),
            (AzureResource::ExistingId(_), Some(vault))
                if provisioning_failed(&vault).is_some() =>
            {
                Ok(Step::Blocked(
                    "ProvisioningFailed",
                    format!(
                        "the adopted vault {} is {} in Azure; cutover does not write a vault it did not create",
                        vault.name,
                        provisioning_failed(&vault).unwrap_or_default()
                    ),
                ))
            }
            (AzureResource::Create(v), Some(vault))
                if !is_standard_tier(vault.sku_name()) || provisioning_failed(&vault).is_some() =>
            {
                let accepted = arm::put_vault(
                    self.arm,
                    &id,
                    self.region(),
                    &format!("{:?}", v.sku),
                    &format!("{:?}", v.storage_redundancy),
                    &self.owner,
                )
                .await?;
                self.started(&id, &accepted);
                Ok(Step::InProgress(
                    "UpdatingVault",
                    match provisioning_failed(&vault) {
                        Some(state) => {
                            format!("the vault {} is {state} in Azure; putting it again", v.name)
                        }
                        None => format!("setting the SKU of vault {} back to {:?}", v.name, v.sku),
                    },
                ))
            }
            (_, Some(vault)) => match provisioning(&vault) {
                Some(state) => Ok(Step::InProgress(
                    "ProvisioningVault",
                    format!("vault {} is {state}", vault.name),
                )),
                None => {
                    self.resources.vault_id = Some(vault.id.clone());
                    Ok(Step::Ready(format!(
                        "vault {} in {}",
                        vault.name,
                        self.region()
                    )))
                }
            },
        }
    }

    /// One storage account in `region`: created to spec, or adopted and checked.
    async fn storage_account(
        &mut self,
        which: &str,
        wanted: &AzureResource<cutover_api::vault::StorageAccountProperties>,
        region: &str,
    ) -> Result<Result<String, Step>, ArmError> {
        let id = match wanted {
            AzureResource::Create(account) => self
                .scope
                .resource_id("Microsoft.Storage/storageAccounts", &account.name),
            AzureResource::ExistingId(id) => id.0.clone(),
        };
        if let Some(step) = self
            .follow(&id, &format!("the {which} storage account"))
            .await?
        {
            return Ok(Err(step));
        }
        let found = arm::get(self.arm, &id, arm::STORAGE_API).await?;
        Ok(match (wanted, found) {
            (AzureResource::Create(account), None) => {
                let accepted = arm::put_storage_account(
                    self.arm,
                    &id,
                    region,
                    account.sku.as_str(),
                    &self.owner,
                )
                .await?;
                self.started(&id, &accepted);
                Err(Step::InProgress(
                    "CreatingStorage",
                    format!("creating the {which} storage account {}", account.name),
                ))
            }
            (AzureResource::ExistingId(_), None) => Err(Step::Blocked(
                "StorageNotFound",
                format!("the {which} storage account {id} does not exist"),
            )),
            (AzureResource::Create(_), Some(account)) if !account.owned_by(&self.owner) => {
                Err(Step::Blocked(
                    "NotOwned",
                    not_owned(&format!("{which} storage account"), &account),
                ))
            }
            (_, Some(account)) if !region_matches(&account, region) => Err(Step::Blocked(
                "StorageInWrongRegion",
                wrong_region(&format!("{which} storage account"), &account, region),
            )),
            (AzureResource::ExistingId(_), Some(account))
                if provisioning_failed(&account).is_some() =>
            {
                Err(Step::Blocked(
                    "ProvisioningFailed",
                    format!(
                        "the adopted {which} storage account {} is {} in Azure; cutover does not write an account it did not create",
                        account.name,
                        provisioning_failed(&account).unwrap_or_default()
                    ),
                ))
            }
            (AzureResource::Create(spec), Some(account))
                if provisioning_failed(&account).is_some()
                    || (provisioning(&account).is_none()
                        && account.sku_name() != Some(spec.sku.as_str())) =>
            {
                let accepted =
                    arm::put_storage_account(self.arm, &id, region, spec.sku.as_str(), &self.owner)
                        .await?;
                self.started(&id, &accepted);
                Err(Step::InProgress(
                    "UpdatingStorage",
                    match provisioning_failed(&account) {
                        Some(state) => format!(
                            "the {which} storage account {} is {state} in Azure; putting it again",
                            spec.name
                        ),
                        None => format!(
                            "setting the SKU of {} back to {}",
                            spec.name,
                            spec.sku.as_str()
                        ),
                    },
                ))
            }
            (_, Some(account)) => match provisioning(&account) {
                Some(state) => Err(Step::InProgress(
                    "ProvisioningStorage",
                    format!("storage account {} is {state}", account.name),
                )),
                None => Ok(account.id),
            },
        })
    }

    async fn storage_step(&mut self) -> Result<Step, ArmError> {
        let storage = self.vault.spec.storage.clone();
        let replication = match self
            .storage_account("replication", &storage.replication, &self.vault.spec.region)
            .await?
        {
            Ok(id) => id,
            Err(step) => return Ok(step),
        };
        self.resources.replication_storage_account_id = Some(replication.clone());
        if let AzureResource::ExistingId(_) = &storage.replication
            && storage.log.is_none()
            && let Some(account) = arm::get(self.arm, &replication, arm::STORAGE_API).await?
            && account.sku_name().is_some_and(|s| s.starts_with("Premium"))
        {
            return Ok(Step::Blocked(
                "PremiumNeedsLogStorage",
                format!(
                    "the adopted replication storage {} is Premium: set spec.storage.log to a Standard account",
                    account.name
                ),
            ));
        }
        if let Some(log) = &storage.log {
            match self
                .storage_account("log", log, &self.vault.spec.region)
                .await?
            {
                Ok(id) => self.resources.log_storage_account_id = Some(id),
                Err(step) => return Ok(step),
            }
        }
        // A2A's cache account is in the source region, where the VMs' writes are staged.
        if let (Some(cache), Some(source_region)) = (&storage.cache, self.source_region()) {
            match self.storage_account("cache", cache, &source_region).await? {
                Ok(id) => self.resources.cache_storage_account_id = Some(id),
                Err(step) => return Ok(step),
            }
        }
        Ok(Step::Ready(format!(
            "replication storage {}",
            replication.rsplit('/').next().unwrap_or_default()
        )))
    }

    async fn virtual_network(
        &mut self,
        which: &str,
        wanted: &AzureResource<VirtualNetworkProperties>,
    ) -> Result<Result<String, Step>, ArmError> {
        let id = match wanted {
            AzureResource::Create(vnet) => self
                .scope
                .resource_id("Microsoft.Network/virtualNetworks", &vnet.name),
            AzureResource::ExistingId(id) => id.0.clone(),
        };
        if let Some(step) = self.follow(&id, &format!("the {which} network")).await? {
            return Ok(Err(step));
        }
        let found = arm::get(self.arm, &id, arm::NETWORK_API).await?;
        Ok(match (wanted, found) {
            (AzureResource::ExistingId(_), None) => Err(Step::Blocked(
                "NetworkNotFound",
                format!("the {which} network {id} does not exist"),
            )),
            (AzureResource::Create(spec), found) => {
                let subnets: Vec<(String, String)> = spec
                    .subnets
                    .iter()
                    .map(|s| (s.name.clone(), s.address_prefix.clone()))
                    .collect();
                // Missing, not as the spec says, or left `Failed`: a PUT repairs each.
                // Subnets others added are theirs: only the spec's are compared.
                let drifted = found.as_ref().is_none_or(|vnet| {
                    let (space, have) = arm::vnet_layout(vnet);
                    space != spec.address_space
                        || subnets.iter().any(|(name, prefix)| {
                            !have
                                .iter()
                                .any(|(n, p)| n.eq_ignore_ascii_case(name) && p == prefix)
                        })
                        || provisioning_failed(vnet).is_some()
                });
                match found {
                    Some(vnet) if !vnet.owned_by(&self.owner) => Err(Step::Blocked(
                        "NotOwned",
                        not_owned(&format!("{which} network"), &vnet),
                    )),
                    Some(vnet) if !region_matches(&vnet, self.region()) => Err(Step::Blocked(
                        "NetworkInWrongRegion",
                        wrong_region(&format!("{which} network"), &vnet, self.region()),
                    )),
                    Some(vnet) if !drifted => match provisioning(&vnet) {
                        Some(state) => Err(Step::InProgress(
                            "ProvisioningNetwork",
                            format!("network {} is {state}", vnet.name),
                        )),
                        None => Ok(vnet.id),
                    },
                    // Missing, or not as the spec says.
                    _ => {
                        let accepted = arm::put_virtual_network(
                            self.arm,
                            &id,
                            found.as_ref(),
                            self.region(),
                            &spec.address_space,
                            &subnets,
                            &self.owner,
                        )
                        .await?;
                        self.started(&id, &accepted);
                        Err(Step::InProgress(
                            "ConfiguringNetwork",
                            format!("creating or repairing the {which} network {}", spec.name),
                        ))
                    }
                }
            }
            (AzureResource::ExistingId(_), Some(vnet)) if !region_matches(&vnet, self.region()) => {
                Err(Step::Blocked(
                    "NetworkInWrongRegion",
                    wrong_region(&format!("{which} network"), &vnet, self.region()),
                ))
            }
            (AzureResource::ExistingId(_), Some(vnet)) if provisioning_failed(&vnet).is_some() => {
                Err(Step::Blocked(
                    "ProvisioningFailed",
                    format!(
                        "the adopted {which} network {} is {} in Azure; cutover does not write a network it did not create",
                        vnet.name,
                        provisioning_failed(&vnet).unwrap_or_default()
                    ),
                ))
            }
            (AzureResource::ExistingId(_), Some(vnet)) => Ok(vnet.id),
        })
    }

    async fn network_step(&mut self) -> Result<Step, ArmError> {
        let network = self.vault.spec.network.clone();
        match self.virtual_network("target", &network.target).await? {
            Ok(id) => self.resources.target_network_id = Some(id),
            Err(step) => return Ok(step),
        }
        if let Some(test) = &network.test {
            match self.virtual_network("test", test).await? {
                Ok(id) => self.resources.test_network_id = Some(id),
                Err(step) => return Ok(step),
            }
        }
        Ok(Step::Ready(
            "target network ready".to_owned()
                + if network.test.is_some() {
                    ", isolated test network ready"
                } else {
                    ""
                },
        ))
    }

    async fn source_step(&mut self) -> Result<Step, ArmError> {
        let vault_name = self
            .vault_id
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        if let SourceSite::HyperVSite(site) = &self.vault.spec.source {
            let id = arm::fabric_id(&self.vault_id, &site.site_name);
            let what = format!("creating the Hyper-V site {}", site.site_name);
            if let Some(step) = self.follow(&id, &what).await? {
                return Ok(step);
            }
        }
        let fabrics = arm::list_fabrics(self.arm, &self.vault_id).await?;
        let find = |friendly: &str, kind: &str| {
            fabrics
                .iter()
                .find(|f| {
                    f.friendly_name()
                        .is_some_and(|n| n.eq_ignore_ascii_case(friendly))
                        && f.properties["customDetails"]["instanceType"] == kind
                })
                .cloned()
        };
        let (fabric, wanted_containers): (Resource, Vec<String>) = match &self.vault.spec.source {
            SourceSite::HyperVVmm(vmm) => match find(&vmm.server, "VMM") {
                // The VMM version is not checked here: `VmmDetails` (the fabric's customDetails)
                // has no version; `spec.source.hyperVVmm.version` is validated instead.
                Some(fabric) => (fabric, vmm.clouds.clone()),
                None => {
                    return Ok(Step::Waiting(
                        WAITING_FOR_REGISTRATION,
                        format!(
                            "install the Azure Site Recovery Provider on the VMM server {} and register it with vault {vault_name} using the vault credentials file",
                            vmm.server
                        ),
                    ));
                }
            },
            SourceSite::HyperVSite(site) => match find(&site.site_name, "HyperVSite") {
                Some(fabric) => (fabric, Vec::new()),
                None => {
                    let accepted = arm::put_fabric(
                        self.arm,
                        &self.vault_id,
                        &site.site_name,
                        json!({ "instanceType": "HyperVSite" }),
                    )
                    .await?;
                    self.started(&arm::fabric_id(&self.vault_id, &site.site_name), &accepted);
                    return Ok(Step::InProgress(
                        "CreatingSite",
                        format!("creating the Hyper-V site {}", site.site_name),
                    ));
                }
            },
            SourceSite::Vmware(source) => match find(&source.appliance, "InMageRcm") {
                Some(fabric) => (fabric, Vec::new()),
                None => {
                    return Ok(Step::Waiting(
                        WAITING_FOR_REGISTRATION,
                        format!(
                            "deploy the ASR replication appliance {} next to vCenter and register it with vault {vault_name}",
                            source.appliance
                        ),
                    ));
                }
            },
            SourceSite::Physical(source) => match find(&source.appliance, "InMageRcm") {
                Some(fabric) => (fabric, Vec::new()),
                None => {
                    return Ok(Step::Waiting(
                        WAITING_FOR_REGISTRATION,
                        format!(
                            "deploy the ASR replication appliance {} and register it with vault {vault_name}",
                            source.appliance
                        ),
                    ));
                }
            },
            SourceSite::Aws(source) => match find(&source.appliance, "InMageRcm") {
                Some(fabric) => (fabric, Vec::new()),
                None => {
                    return Ok(Step::Waiting(
                        WAITING_FOR_REGISTRATION,
                        format!(
                            "deploy the ASR replication appliance {} in AWS region {} and register it with vault {vault_name}",
                            source.appliance, source.aws_region
                        ),
                    ));
                }
            },
            SourceSite::AzureRegion(source) => {
                return self.azure_fabrics(&fabrics, &source.region).await;
            }
        };
        self.resources.fabric_id = Some(fabric.id.clone());
        let containers = arm::list_containers(self.arm, &fabric.id).await?;
        if containers.is_empty() {
            let message = match &self.vault.spec.source {
                SourceSite::HyperVSite(site) => format!(
                    "install the Azure Site Recovery Provider on the Hyper-V hosts {} and register them into site {} of vault {vault_name}",
                    site.hosts
                        .iter()
                        .map(|h| h.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    site.site_name
                ),
                _ => format!(
                    "{} has registered but reports no protection container yet",
                    fabric.friendly_name().unwrap_or_default()
                ),
            };
            return Ok(Step::Waiting(WAITING_FOR_REGISTRATION, message));
        }
        let mut ids = Vec::new();
        if wanted_containers.is_empty() {
            ids = containers.iter().map(|c| c.id.clone()).collect();
        } else {
            for cloud in &wanted_containers {
                match containers.iter().find(|c| {
                    c.friendly_name()
                        .is_some_and(|n| n.eq_ignore_ascii_case(cloud))
                }) {
                    Some(container) => ids.push(container.id.clone()),
                    None => {
                        return Ok(Step::Waiting(
                            "WaitingForCloud",
                            format!(
                                "the VMM cloud {cloud} is not in the vault yet: check it exists and the provider has synchronised"
                            ),
                        ));
                    }
                }
            }
        }
        self.resources.protection_container_ids = ids;
        Ok(Step::Ready(format!(
            "{} registered with {} protection container(s)",
            fabric.friendly_name().unwrap_or_default(),
            self.resources.protection_container_ids.len()
        )))
    }

    /// Azure to Azure: a fabric and container per region, both created through ARM.
    async fn azure_fabrics(
        &mut self,
        fabrics: &[Resource],
        source_region: &str,
    ) -> Result<Step, ArmError> {
        let mut containers = Vec::new();
        for region in [source_region.to_owned(), self.region().to_owned()] {
            let name = a2a_fabric_name(&region);
            let fabric_id = arm::fabric_id(&self.vault_id, &name);
            let what = format!("creating the Azure fabric for {region}");
            if let Some(step) = self.follow(&fabric_id, &what).await? {
                return Ok(step);
            }
            let Some(fabric) = fabrics.iter().find(|f| f.name.eq_ignore_ascii_case(&name)) else {
                let accepted = arm::put_fabric(
                    self.arm,
                    &self.vault_id,
                    &name,
                    json!({ "instanceType": "Azure", "location": region }),
                )
                .await?;
                self.started(&fabric_id, &accepted);
                return Ok(Step::InProgress(
                    "CreatingFabric",
                    format!("creating the Azure fabric for {region}"),
                ));
            };
            let container_name = format!("{name}-container");
            let container_id = arm::container_id(&fabric.id, &container_name);
            let what = format!("creating the protection container for {region}");
            if let Some(step) = self.follow(&container_id, &what).await? {
                return Ok(step);
            }
            let found = arm::list_containers(self.arm, &fabric.id).await?;
            match found
                .into_iter()
                .find(|c| c.name.eq_ignore_ascii_case(&container_name))
            {
                Some(container) => containers.push(container.id),
                None => {
                    let accepted =
                        arm::put_a2a_container(self.arm, &fabric.id, &container_name).await?;
                    self.started(&container_id, &accepted);
                    return Ok(Step::InProgress(
                        "CreatingContainer",
                        format!("creating the protection container for {region}"),
                    ));
                }
            }
            if region == source_region {
                self.resources.fabric_id = Some(fabric.id.clone());
            }
        }
        self.resources.protection_container_ids = containers;
        Ok(Step::Ready(format!(
            "Azure fabrics for {source_region} and {}",
            self.region()
        )))
    }

    fn policy_input(&self) -> Value {
        let policy = &self.vault.spec.replication_policy;
        let retention = policy.recovery_point_retention_hours;
        let app = policy.app_consistent_snapshot_frequency_hours;
        match Provider::of(self.vault.spec.source.kind()) {
            Provider::HyperVReplicaAzure => json!({
                "instanceType": "HyperVReplicaAzure",
                "recoveryPointHistoryDuration": retention,
                "applicationConsistentSnapshotFrequencyInHours": app,
                "replicationInterval": policy.replication_interval_seconds.unwrap_or(300),
                "storageAccounts": self.resources.replication_storage_account_id.iter().collect::<Vec<_>>(),
            }),
            Provider::InMageRcm => json!({
                "instanceType": "InMageRcm",
                "recoveryPointHistoryInMinutes": retention * 60,
                "appConsistentFrequencyInMinutes": app * 60,
                "crashConsistentFrequencyInMinutes": 5,
                "enableMultiVmSync": "True",
            }),
            Provider::A2A => json!({
                "instanceType": "A2A",
                "recoveryPointHistory": retention * 60,
                "appConsistentFrequencyInMinutes": app * 60,
                "multiVmSyncStatus": "Enable",
            }),
        }
    }

    /// Whether the policy's details already say what the spec says.
    fn policy_matches(&self, existing: &Resource) -> bool {
        let have = &existing.properties["providerSpecificDetails"];
        let want = self.policy_input();
        let pairs: &[(&str, &str)] = match Provider::of(self.vault.spec.source.kind()) {
            Provider::HyperVReplicaAzure => &[
                (
                    "recoveryPointHistoryDuration",
                    "recoveryPointHistoryDurationInHours",
                ),
                (
                    "applicationConsistentSnapshotFrequencyInHours",
                    "applicationConsistentSnapshotFrequencyInHours",
                ),
                ("replicationInterval", "replicationInterval"),
            ],
            Provider::InMageRcm => &[
                (
                    "recoveryPointHistoryInMinutes",
                    "recoveryPointHistoryInMinutes",
                ),
                (
                    "appConsistentFrequencyInMinutes",
                    "appConsistentFrequencyInMinutes",
                ),
            ],
            Provider::A2A => &[
                ("recoveryPointHistory", "recoveryPointHistory"),
                (
                    "appConsistentFrequencyInMinutes",
                    "appConsistentFrequencyInMinutes",
                ),
            ],
        };
        have["instanceType"] == want["instanceType"]
            && pairs
                .iter()
                .all(|(input, detail)| have[*detail] == want[*input])
    }

    async fn replication_step(&mut self) -> Result<Step, ArmError> {
        let spec = &self.vault.spec;
        let kind = spec.source.kind();
        let provider = Provider::of(kind).instance_type();
        let policy_name = spec.replication_policy.name.clone();
        let policy_id = arm::policy_id(&self.vault_id, &policy_name);
        let what = format!("configuring replication policy {policy_name}");
        if let Some(step) = self.follow(&policy_id, &what).await? {
            return Ok(step);
        }
        match arm::get(self.arm, &policy_id, arm::SITE_RECOVERY_API).await? {
            Some(existing) if self.policy_matches(&existing) => {
                self.resources.policy_id = Some(existing.id)
            }
            existing => {
                let verb = if existing.is_some() {
                    "updating"
                } else {
                    "creating"
                };
                let accepted =
                    arm::put_policy(self.arm, &self.vault_id, &policy_name, self.policy_input())
                        .await?;
                self.started(&policy_id, &accepted);
                return Ok(Step::InProgress(
                    "ConfiguringPolicy",
                    format!("{verb} replication policy {policy_name}"),
                ));
            }
        }

        let mappings = arm::list_container_mappings(self.arm, &self.vault_id).await?;
        let containers = self.resources.protection_container_ids.clone();
        // A2A maps the source region's container to the target region's; others map to Azure.
        let sources: Vec<(String, String)> = if kind == SourceKind::AzureRegion {
            containers
                .first()
                .zip(containers.get(1))
                .map(|(s, t)| vec![(s.clone(), t.clone())])
                .unwrap_or_default()
        } else {
            containers
                .iter()
                .map(|c| (c.clone(), MICROSOFT_AZURE.to_owned()))
                .collect()
        };
        let mut mapping_ids = Vec::new();
        for (container, target) in sources {
            let container_name = container.rsplit('/').next().unwrap_or_default().to_owned();
            let mapping_name = format!("{container_name}-{policy_name}");
            let mapping_id = arm::container_mapping_id(&container, &mapping_name);
            let what = format!("pairing container {container_name} with policy {policy_name}");
            if let Some(step) = self.follow(&mapping_id, &what).await? {
                return Ok(step);
            }
            let existing = mappings.iter().find(|m| {
                m.id.to_ascii_lowercase()
                    .starts_with(&format!("{}/", container.to_ascii_lowercase()))
                    && m.properties["policyId"]
                        .as_str()
                        .is_some_and(|p| p.eq_ignore_ascii_case(&policy_id))
            });
            match existing {
                Some(mapping) if mapping.properties["state"] == "Paired" => {
                    mapping_ids.push(mapping.id.clone())
                }
                Some(mapping) => {
                    return Ok(Step::InProgress(
                        "PairingContainer",
                        format!(
                            "container mapping {} is {}",
                            mapping.name,
                            mapping.properties["state"].as_str().unwrap_or("pairing")
                        ),
                    ));
                }
                None => {
                    let accepted = arm::put_container_mapping(
                        self.arm,
                        &container,
                        &mapping_name,
                        &target,
                        &policy_id,
                        provider,
                    )
                    .await?;
                    self.started(&mapping_id, &accepted);
                    return Ok(Step::InProgress(
                        "PairingContainer",
                        format!("pairing container {container_name} with policy {policy_name}"),
                    ));
                }
            }
        }
        self.resources.container_mapping_ids = mapping_ids;

        if !spec.network_mappings.is_empty() {
            let Some(target_vnet) = self.resources.target_network_id.clone() else {
                return Ok(Step::InProgress(
                    "WaitingForNetwork",
                    "the target network is not ready".into(),
                ));
            };
            let existing = arm::list_network_mappings(self.arm, &self.vault_id).await?;
            let fabric = self.resources.fabric_id.clone().unwrap_or_default();
            let networks = if kind == SourceKind::HyperVVmm {
                arm::list_networks(self.arm, &fabric).await?
            } else {
                Vec::new()
            };
            let mut ids = Vec::new();
            for mapping in &spec.network_mappings {
                let network_id = if kind == SourceKind::HyperVVmm {
                    match networks.iter().find(|n| {
                        n.friendly_name()
                            .is_some_and(|f| f.eq_ignore_ascii_case(&mapping.source_network))
                    }) {
                        Some(network) => network.id.clone(),
                        None => {
                            return Ok(Step::Waiting(
                                "WaitingForSourceNetwork",
                                format!(
                                    "the VMM VM network {} is not in the vault yet",
                                    mapping.source_network
                                ),
                            ));
                        }
                    }
                } else {
                    format!(
                        "{fabric}/replicationNetworks/{}",
                        mapping
                            .source_network
                            .rsplit('/')
                            .next()
                            .unwrap_or("network")
                    )
                };
                let name = format!(
                    "{}-to-azure",
                    network_id.rsplit('/').next().unwrap_or("network")
                );
                let mapping_id = arm::network_mapping_id(&network_id, &name);
                let what = format!(
                    "mapping source network {} to the target network",
                    mapping.source_network
                );
                if let Some(step) = self.follow(&mapping_id, &what).await? {
                    return Ok(step);
                }
                match existing.iter().find(|m| {
                    m.id.to_ascii_lowercase()
                        .starts_with(&format!("{}/", network_id.to_ascii_lowercase()))
                }) {
                    Some(found)
                        if found.properties["recoveryNetworkId"]
                            .as_str()
                            .is_some_and(|r| r.eq_ignore_ascii_case(&target_vnet)) =>
                    {
                        ids.push(found.id.clone())
                    }
                    _ => {
                        let recovery_fabric = a2a_fabric_name(self.region());
                        let target = if kind == SourceKind::HyperVVmm {
                            arm::NetworkMappingTarget::VmmToAzure
                        } else {
                            arm::NetworkMappingTarget::AzureToAzure {
                                recovery_fabric: &recovery_fabric,
                                primary_network_id: &mapping.source_network,
                            }
                        };
                        let accepted = arm::put_network_mapping(
                            self.arm,
                            &network_id,
                            &name,
                            &target_vnet,
                            target,
                        )
                        .await?;
                        self.started(&mapping_id, &accepted);
                        return Ok(Step::InProgress("MappingNetwork", what));
                    }
                }
            }
            self.resources.network_mapping_ids = ids;
        }
        Ok(Step::Ready(format!(
            "policy {policy_name}, {} container mapping(s), {} network mapping(s)",
            self.resources.container_mapping_ids.len(),
            self.resources.network_mapping_ids.len()
        )))
    }
}

/// The Azure fabric cutover creates for a region (Azure to Azure).
fn a2a_fabric_name(region: &str) -> String {
    format!("asr-a2a-{region}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_rs0_are_one_vault_sku() {
        // PUTVault.json (2025-02-01): `{"name": "Standard"}` is answered as RS0, tier Standard.
        for reported in ["Standard", "RS0", "rs0"] {
            assert!(is_standard_tier(Some(reported)), "{reported}");
        }
        assert!(!is_standard_tier(Some("Premium")));
        assert!(!is_standard_tier(None));
    }
}
