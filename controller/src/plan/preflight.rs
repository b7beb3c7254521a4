//! Whether the target region can take the VMs a step creates, before the step is released: the
//! machines' sizes offered there and within the vCPU quotas, and their static addresses usable
//! and free in the target network. [`read`] makes the ARM reads (the plan's observe);
//! [`shortfalls`] judges what they said, purely.

use std::collections::BTreeMap;
use std::sync::Arc;

use cutover_api::{RecoveryVault, ReplicatedMachine};
use kube::ResourceExt;

use super::orchestrate::Step;
use crate::azure::capacity::{self, Need, Shortfall, Sku, Usage};
use crate::azure::resources::{self, IpAvailability, Resource};
use crate::azure::{ArmClient, addresses};
use crate::error::Result;

/// What ARM said of the target region, for one step's newly released machines.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The region's quota usage and VM SKUs: read when a machine of the wave names a size.
    pub capacity: Option<(Vec<Usage>, Vec<Sku>)>,
    /// The target network: read when a machine of the wave fails over to a static address.
    pub network: Option<Network>,
}

#[derive(Clone, Debug, Default)]
pub struct Network {
    pub id: String,
    /// Absent: the vault's network is not there, the vault is not Ready and nothing fails over.
    pub vnet: Option<Resource>,
    /// ARM's `checkIPAddressAvailability` answer for each static address that passed
    /// [`addresses::check`].
    pub availability: BTreeMap<String, Option<IpAvailability>>,
}

/// The machines of `released`, among the namespace's `machines`.
pub fn wave<'a>(
    machines: &'a [Arc<ReplicatedMachine>],
    released: &[String],
) -> Vec<&'a ReplicatedMachine> {
    machines
        .iter()
        .filter(|m| released.contains(&m.name_any()))
        .map(|m| m.as_ref())
        .collect()
}

/// Whether the step's VMs ask for addresses: a test VM lands in the test network, where the
/// spec asks for none.
fn addressed(wave: &[&ReplicatedMachine], step: Step) -> bool {
    step == Step::Failover && wave.iter().any(|m| m.spec.target.static_ip.is_some())
}

fn needs<'a>(wave: &[&'a ReplicatedMachine]) -> Vec<Need<'a>> {
    wave.iter()
        .filter_map(|m| {
            Some(Need {
                machine: m.metadata.name.as_deref()?,
                size: m.spec.target.vm_size.as_deref()?,
                zone: m.spec.target.availability_zone.as_ref().map(|z| z.as_str()),
            })
        })
        .collect()
}

fn network_name(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or_default()
}

fn wanted<'a>(wave: &[&'a ReplicatedMachine]) -> Vec<addresses::Wanted<'a>> {
    wave.iter()
        .filter_map(|m| {
            Some(addresses::Wanted {
                machine: m.metadata.name.as_deref()?,
                subnet: m.spec.target.subnet.as_deref(),
                static_ip: m.spec.target.static_ip.as_deref(),
            })
        })
        .collect()
}

/// Whether the step's preflight reads anything from ARM: a machine names a size, or fails over
/// to a static address.
pub fn asks_arm(wave: &[&ReplicatedMachine], step: Step) -> bool {
    !needs(wave).is_empty() || addressed(wave, step)
}

/// The rules `addresses::check` finds broken in `vnet`, without asking ARM.
fn problems(
    network: &Network,
    vnet: &Resource,
    wave: &[&ReplicatedMachine],
) -> Vec<addresses::Problem> {
    let (_, subnets) = resources::vnet_layout(vnet);
    addresses::check(network_name(&network.id), &subnets, &wanted(wave))
}

/// The reads the step's preflight needs, none when its machines name no size and no address.
/// Only machines about to fail over are asked about: one that did holds its own address.
pub async fn read(
    arm: &ArmClient,
    vault: &RecoveryVault,
    wave: &[&ReplicatedMachine],
    step: Step,
) -> Result<Facts> {
    let mut facts = Facts::default();
    if !needs(wave).is_empty() {
        let subscription = &vault.spec.subscription_id;
        let region = &vault.spec.region;
        facts.capacity = Some((
            resources::list_usages(arm, subscription, region).await?,
            resources::list_skus(arm, subscription, region).await?,
        ));
    }
    let network_id = crate::vault::converge::Ids::of(vault).networks[0].1.clone();
    if let (true, Some(id)) = (addressed(wave, step), network_id) {
        let mut network = Network {
            vnet: resources::get(arm, &id, resources::NETWORK_API).await?,
            id,
            availability: BTreeMap::new(),
        };
        if let Some(vnet) = &network.vnet {
            let broken = problems(&network, vnet, wave);
            for want in wanted(wave) {
                let Some(ip) = want.static_ip else { continue };
                if broken.iter().any(|p| p.machine == want.machine) {
                    continue;
                }
                let answer = resources::check_ip_address_availability(arm, &network.id, ip).await?;
                network.availability.insert(ip.to_owned(), answer);
            }
        }
        facts.network = Some(network);
    }
    Ok(facts)
}

/// Whether ARM's answers, `facts`, let `wave`'s VMs be created: a size not offered or over
/// quota, an address outside its subnet, kept by Azure, asked twice or taken. Pure.
pub fn shortfalls(
    vault: &RecoveryVault,
    wave: &[&ReplicatedMachine],
    step: Step,
    facts: &Facts,
) -> Vec<Shortfall> {
    let mut out = Vec::new();
    if let Some((usages, skus)) = &facts.capacity {
        out.extend(capacity::check(
            &vault.spec.region,
            &needs(wave),
            usages,
            skus,
        ));
    }
    let Some(network) = facts.network.as_ref().filter(|_| addressed(wave, step)) else {
        return out;
    };
    let Some(vnet) = &network.vnet else {
        return out;
    };
    let broken = problems(network, vnet, wave);
    out.extend(broken.iter().map(|p| Shortfall {
        machine: Some(p.machine.clone()),
        reason: "AddressNotUsable",
        message: format!("{}: {} ({})", p.machine, p.message, p.field),
    }));
    for want in wanted(wave) {
        let Some(ip) = want.static_ip else { continue };
        if broken.iter().any(|p| p.machine == want.machine) {
            continue;
        }
        let Some(answer) = network.availability.get(ip) else {
            // Not asked (the pass that read was not this one's wave): not released until it is.
            out.push(Shortfall {
                machine: Some(want.machine.to_owned()),
                reason: "AddressNotChecked",
                message: format!("{}: {ip} has not been checked yet", want.machine),
            });
            continue;
        };
        if let Some(message) = answer
            .as_ref()
            .and_then(|a| addresses::unavailable(ip, network_name(&network.id), a))
        {
            out.push(Shortfall {
                machine: Some(want.machine.to_owned()),
                reason: "AddressNotFree",
                message: format!("{}: {message}", want.machine),
            });
        }
    }
    out
}
