//! Fabrics, protection containers, protectable items, networks and network mappings,
//! replication policies and container mappings: a module per resource kind, over the shared
//! lookups below.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{AsrObject, ObjectKind, Scenario};
use super::{
    InjectedJobFailure, JobTarget, MICROSOFT_AZURE, accepted, asr_not_found, children,
    fabric_properties, find, insert, insert_container, object_document, require_object,
    require_vault, start_job,
};
use crate::app::Sim;
use crate::arm::{page, parse_body};
use crate::error::ArmError;
use crate::inventory::{AsrKind, Inventory, Machine, SourceKind};
use crate::state::World;

type VaultPath = Path<(String, String, String)>;
type FabricPath = Path<(String, String, String, String)>;
type ContainerPath = Path<(String, String, String, String, String)>;
type ChildPath = Path<(String, String, String, String, String, String)>;

pub(crate) fn list_of(sim: &Sim, uri: &Uri, objects: Vec<&AsrObject>) -> Json<Value> {
    Json(page(
        sim,
        uri,
        objects.into_iter().map(object_document).collect(),
    ))
}

/// The file name a Hyper-V VM's disk has (`DiskDetails.vhdName`), distinct from its `vhdId`.
pub fn hyper_v_vhd_name(disk_id: &str) -> String {
    format!("{disk_id}.vhdx")
}

pub(crate) fn fabric_id(vault_id: &str, fabric: &str) -> String {
    format!("{vault_id}/replicationFabrics/{fabric}")
}

/// What a GET answers for an object that is not there.
pub(crate) enum Missing {
    /// ASR's 404 naming the object.
    NotFound(&'static str),
    /// The 404 naming it, or, when the vault has none of its kind at all, the answer of a vault
    /// not registered with Site Recovery.
    NoneOfKind(ObjectKind, &'static str),
}

/// One ASR object of a vault by its ID (made from the vault's, in the casing ARM stored it
/// with): the vault checked first, as ARM answers for a vault that is not there.
pub(crate) fn get_in_vault(
    sim: &Sim,
    (s, g, v): (&str, &str, &str),
    id_of: impl FnOnce(&str) -> String,
    missing: Missing,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, s, g, v)?;
    let id = id_of(&vault_id);
    let object = match missing {
        Missing::NotFound(noun) => {
            require(&world, &id, noun, id.rsplit('/').next().unwrap_or_default())?
        }
        Missing::NoneOfKind(kind, noun) => require_object(&world, &vault_id, kind, &id, noun)?,
    };
    Ok(Json(object_document(object)))
}

/// The ASR objects of `kind` in a vault, under the parent whose ID `parent_of` makes (or
/// anywhere in the vault), a page at a time: the vault checked first.
pub(crate) fn list_in_vault(
    sim: &Sim,
    uri: &Uri,
    (s, g, v): (&str, &str, &str),
    kind: ObjectKind,
    parent_of: impl FnOnce(&str) -> Option<String>,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, s, g, v)?;
    let parent = parent_of(&vault_id);
    Ok(list_of(
        sim,
        uri,
        children(&world, kind, &vault_id, parent.as_deref()),
    ))
}

pub(crate) fn require<'w>(
    world: &'w World,
    id: &str,
    kind: &str,
    name: &str,
) -> Result<&'w AsrObject, ArmError> {
    find(world, id).ok_or_else(|| asr_not_found(kind, name))
}

mod container_mappings;
mod containers;
mod fabrics;
mod networks;
mod policies;
mod protectable;

pub use container_mappings::*;
pub use containers::*;
pub use fabrics::*;
pub use networks::*;
pub use policies::*;
pub use protectable::*;
