//! Protection containers.

use super::*;

pub async fn list_containers(
    State(sim): State<Sim>,
    Path((s, g, v, f)): FabricPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let fabric = fabric_id(&vault_id, &f);
    require(&world, &fabric, "fabric", &f)?;
    Ok(list_of(
        &sim,
        &uri,
        children(&world, ObjectKind::Container, &vault_id, Some(&fabric)),
    ))
}

pub async fn list_all_containers(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    list_in_vault(&sim, &uri, (&s, &g, &v), ObjectKind::Container, |_| None)
}

pub(crate) fn container_id(vault_id: &str, fabric: &str, container: &str) -> String {
    format!(
        "{}/replicationProtectionContainers/{container}",
        fabric_id(vault_id, fabric)
    )
}

pub async fn get_container(
    State(sim): State<Sim>,
    Path((s, g, v, f, c)): ContainerPath,
) -> Result<Json<Value>, ArmError> {
    get_in_vault(
        &sim,
        (&s, &g, &v),
        |vault_id| container_id(vault_id, &f, &c),
        Missing::NotFound("protection container"),
    )
}

/// Creates a container in an Azure (A2A) fabric; other sources' containers come from registration.
pub async fn put_container(
    State(sim): State<Sim>,
    Path((s, g, v, f, c)): ContainerPath,
    failure: Option<Extension<InjectedJobFailure>>,
    uri: Uri,
    _body: Bytes,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let inventory = sim.inventory();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let fabric = require(&world, &fabric_id(&vault_id, &f), "fabric", &f)?.clone();
    if fabric.properties["customDetails"]["instanceType"] != "Azure" {
        return Err(ArmError::bad_request(
            "InvalidParameter",
            format!(
                "Containers of fabric '{f}' appear when its source registers; only Azure fabrics take new containers."
            ),
        ));
    }
    let id = container_id(&vault_id, &f, &c);
    if find(&world, &id).is_none() && failure.is_none() {
        let region = fabric.location.clone().unwrap_or_default();
        let source = inventory
            .sources
            .iter()
            .find(|src| {
                src.kind == SourceKind::AzureRegion && src.name.eq_ignore_ascii_case(&region)
            })
            .map(|src| src.name.clone());
        insert_container(
            &mut world,
            &fabric.id,
            source.as_deref().unwrap_or(&region),
            "Azure",
            &c,
        );
        if let Some(container) = world.asr.objects.get_mut(&id.to_ascii_lowercase()) {
            container.source = source;
        }
    }
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &c,
            instance_type: "ProtectionContainer",
        },
        now,
        failure.map(|e| e.0),
    );
    Ok(accepted(&sim, &job, &uri))
}
