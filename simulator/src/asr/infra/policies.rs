//! Replication policies.

use super::*;

pub async fn list_policies(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    list_in_vault(&sim, &uri, (&s, &g, &v), ObjectKind::Policy, |_| None)
}

pub async fn get_policy(
    State(sim): State<Sim>,
    Path((s, g, v, p)): FabricPath,
) -> Result<Json<Value>, ArmError> {
    get_in_vault(
        &sim,
        (&s, &g, &v),
        |vault_id| format!("{vault_id}/replicationPolicies/{p}"),
        Missing::NoneOfKind(ObjectKind::Policy, "policy"),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyInput {
    properties: PolicyInputProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyInputProperties {
    provider_specific_input: Value,
}

/// The policy's `providerSpecificDetails` for its input, or ASR's 400 for values it refuses.
pub(crate) fn policy_details(input: &Value) -> Result<Value, ArmError> {
    let int = |key: &str| input[key].as_i64();
    let invalid = |field: &str, why: String| {
        Err(ArmError::bad_request("InvalidParameter", why)
            .with_target(&format!("properties.providerSpecificInput.{field}")))
    };
    match input["instanceType"].as_str().unwrap_or_default() {
        "HyperVReplicaAzure" => {
            let retention = int("recoveryPointHistoryDuration").unwrap_or(2);
            let app = int("applicationConsistentSnapshotFrequencyInHours").unwrap_or(1);
            let interval = int("replicationInterval").unwrap_or(300);
            if !(0..=24).contains(&retention) {
                return invalid(
                    "recoveryPointHistoryDuration",
                    format!(
                        "Recovery point retention of {retention} hours is not supported; use 0 to 24."
                    ),
                );
            }
            if !(0..=12).contains(&app) {
                return invalid(
                    "applicationConsistentSnapshotFrequencyInHours",
                    format!(
                        "App-consistent snapshot frequency of {app} hours is not supported; use 0 to 12."
                    ),
                );
            }
            if ![30, 300, 900].contains(&interval) {
                return invalid(
                    "replicationInterval",
                    format!(
                        "Replication interval of {interval} seconds is not supported; use 30, 300 or 900."
                    ),
                );
            }
            Ok(json!({
                "instanceType": "HyperVReplicaAzure",
                "recoveryPointHistoryDurationInHours": retention,
                "applicationConsistentSnapshotFrequencyInHours": app,
                "replicationInterval": interval,
                "onlineReplicationStartTime": input["onlineReplicationStartTime"],
                "encryption": "Disabled",
                "activeStorageAccountId": input["storageAccounts"].get(0),
            }))
        }
        "InMageRcm" => {
            let retention = int("recoveryPointHistoryInMinutes").unwrap_or(1440);
            if !(0..=21600).contains(&retention) {
                return invalid(
                    "recoveryPointHistoryInMinutes",
                    format!(
                        "Recovery point retention of {retention} minutes is not supported; use up to 21600 (15 days)."
                    ),
                );
            }
            Ok(json!({
                "instanceType": "InMageRcm",
                "recoveryPointHistoryInMinutes": retention,
                "appConsistentFrequencyInMinutes": int("appConsistentFrequencyInMinutes").unwrap_or(240),
                "crashConsistentFrequencyInMinutes": int("crashConsistentFrequencyInMinutes").unwrap_or(5),
                "enableMultiVmSync": input["enableMultiVmSync"].as_str().unwrap_or("True"),
            }))
        }
        "A2A" => {
            let retention = int("recoveryPointHistory").unwrap_or(1440);
            if !(0..=21600).contains(&retention) {
                return invalid(
                    "recoveryPointHistory",
                    format!(
                        "Recovery point retention of {retention} minutes is not supported; use up to 21600 (15 days)."
                    ),
                );
            }
            Ok(json!({
                "instanceType": "A2A",
                "recoveryPointHistory": retention,
                "appConsistentFrequencyInMinutes": int("appConsistentFrequencyInMinutes").unwrap_or(240),
                "crashConsistentFrequencyInMinutes": 5,
                "multiVmSyncStatus": input["multiVmSyncStatus"].as_str().unwrap_or("Enable"),
            }))
        }
        other => invalid(
            "instanceType",
            format!(
                "Replication provider '{other}' is not supported; use HyperVReplicaAzure, InMageRcm or A2A."
            ),
        ),
    }
}

pub async fn put_policy(
    State(sim): State<Sim>,
    Path((s, g, v, p)): FabricPath,
    failure: Option<Extension<InjectedJobFailure>>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let input: PolicyInput = parse_body(&body)?;
    let details = policy_details(&input.properties.provider_specific_input)?;
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = format!("{vault_id}/replicationPolicies/{p}");
    // A job that fails changes nothing (docs/azure-fidelity.md).
    if failure.is_none() {
        insert(
            &mut world,
            AsrObject {
                id: id.clone(),
                name: p.clone(),
                kind: ObjectKind::Policy,
                vault_id: vault_id.clone(),
                parent_id: None,
                source: None,
                location: None,
                properties: json!({ "friendlyName": p, "providerSpecificDetails": details }),
            },
        );
    }
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &p,
            instance_type: "Policy",
        },
        now,
        failure.map(|e| e.0),
    );
    Ok(accepted(&sim, &job, &uri))
}

pub async fn delete_policy(
    State(sim): State<Sim>,
    Path((s, g, v, p)): FabricPath,
    uri: Uri,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = format!("{vault_id}/replicationPolicies/{p}");
    if find(&world, &id).is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if children(&world, ObjectKind::ContainerMapping, &vault_id, None)
        .iter()
        .any(|m| {
            m.properties["policyId"]
                .as_str()
                .is_some_and(|pid| pid.eq_ignore_ascii_case(&id))
        })
    {
        return Err(ArmError::bad_request(
            "PolicyInUse",
            format!(
                "The policy {p} is associated with protection containers; remove the container mappings first."
            ),
        ));
    }
    world.asr.objects.remove(&id.to_ascii_lowercase());
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &p,
            instance_type: "Policy",
        },
        now,
        None,
    );
    Ok(accepted(&sim, &job, &uri))
}
