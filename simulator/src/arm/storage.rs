//! Microsoft.Storage/storageAccounts: create is asynchronous (202 + `Location`), names are
//! unique across Azure, and the provisioning state walks Creating -> ResolvingDNS -> Succeeded.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{api_version, base_document, check_location, operations, parse_body, resource_id};
use crate::app::Sim;
use crate::error::ArmError;
use crate::state::{OperationKind, Resource};

pub const TYPE: &str = "Microsoft.Storage/storageAccounts";
/// How long creating an account takes, in simulated time.
const CREATE_DURATION: SignedDuration = SignedDuration::from_secs(20);
const SKUS: &[&str] = &[
    "Standard_LRS",
    "Standard_GRS",
    "Standard_RAGRS",
    "Standard_ZRS",
    "Standard_GZRS",
    "Standard_RAGZRS",
    "Premium_LRS",
    "Premium_ZRS",
];
const KINDS: &[&str] = &[
    "StorageV2",
    "Storage",
    "BlobStorage",
    "BlockBlobStorage",
    "FileStorage",
];

#[derive(Deserialize)]
struct Sku {
    name: String,
}

#[derive(Deserialize)]
struct Body {
    sku: Sku,
    kind: String,
    location: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    properties: Value,
}

pub fn document(sim: &Sim, account: &Resource) -> Value {
    let now = sim.now();
    // The last tenth of provisioning is DNS registration, as real accounts report it.
    let resolving = now < account.ready_at
        && account.ready_at.duration_since(now) < SignedDuration::from_secs(2);
    let state = account.provisioning_state(
        now,
        if resolving {
            "ResolvingDNS"
        } else {
            "Creating"
        },
    );
    let mut body = base_document(account, state);
    let name = &account.name;
    let properties = &mut body["properties"];
    properties["creationTime"] = json!(account.created_at.to_string());
    properties["primaryLocation"] = json!(account.location);
    properties["statusOfPrimary"] = json!("available");
    properties["primaryEndpoints"] = json!({
        "blob": format!("https://{name}.blob.core.windows.net/"),
        "queue": format!("https://{name}.queue.core.windows.net/"),
        "table": format!("https://{name}.table.core.windows.net/"),
        "file": format!("https://{name}.file.core.windows.net/"),
        "dfs": format!("https://{name}.dfs.core.windows.net/"),
        "web": format!("https://{name}.z6.web.core.windows.net/"),
    });
    if properties.get("supportsHttpsTrafficOnly").is_none() {
        properties["supportsHttpsTrafficOnly"] = json!(true);
    }
    if properties.get("minimumTlsVersion").is_none() {
        properties["minimumTlsVersion"] = json!("TLS1_2");
    }
    body
}

pub async fn list(
    State(sim): State<Sim>,
    Path((_, group)): Path<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    super::list_in_group(&sim, &uri, &group, TYPE)
}

pub async fn list_subscription(State(sim): State<Sim>, uri: Uri) -> Json<Value> {
    super::list_in_subscription(&sim, &uri, TYPE)
}

pub async fn get(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    super::get_in_group(&sim, &subscription, &group, TYPE, &name)
}

pub async fn put(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
    failure: Option<axum::Extension<crate::faults::OperationFailure>>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let failure = failure.map(|f| f.0);
    let body: Body = parse_body(&body)?;
    if !(3..=24).contains(&name.len())
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(ArmError::bad_request(
            "AccountNameInvalid",
            format!(
                "{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."
            ),
        ));
    }
    if !SKUS.contains(&body.sku.name.as_str()) {
        return Err(ArmError::bad_request(
            "InvalidValuesForRequestParameters",
            format!(
                "Values for request parameters are invalid: sku.name '{}'.",
                body.sku.name
            ),
        )
        .with_target("sku.name"));
    }
    if !KINDS.contains(&body.kind.as_str()) {
        return Err(ArmError::bad_request(
            "InvalidValuesForRequestParameters",
            format!(
                "Values for request parameters are invalid: kind '{}'.",
                body.kind
            ),
        )
        .with_target("kind"));
    }
    let location = check_location(&body.location, TYPE)?;
    let now = sim.now();
    let mut world = sim.world();
    let group_name = world.require_resource_group(&group)?.name.clone();
    let id = resource_id(&subscription, &group_name, TYPE, &name);
    let taken = world
        .list(TYPE, None)
        .into_iter()
        .any(|r| r.name.eq_ignore_ascii_case(&name) && !r.id.eq_ignore_ascii_case(&id));
    if taken {
        return Err(ArmError::conflict(
            "StorageAccountAlreadyTaken",
            format!("The storage account named {name} is already taken."),
        ));
    }
    let sku = json!({ "name": body.sku.name, "tier": if body.sku.name.starts_with("Premium") { "Premium" } else { "Standard" } });
    if let Some(existing) = world
        .resource_mut(&id)
        .filter(|r| r.deleting_until.is_none())
    {
        existing.check_same_location(&location)?;
        existing.sku = Some(sku);
        existing.kind = Some(body.kind);
        existing.tags = body.tags;
        if body.properties.is_object() {
            existing.properties = body.properties;
        }
        // An update answers at once: an injected failure leaves the account `Failed`, a
        // successful one repairs it.
        existing.failed = failure.as_ref().is_some_and(|f| f.leave_resource);
        let existing = existing.clone();
        return Ok((StatusCode::OK, Json(document(&sim, &existing))).into_response());
    }
    world.insert(Resource {
        id: id.clone(),
        name,
        resource_type: TYPE.into(),
        resource_group: group_name,
        location: Some(location.clone()),
        tags: body.tags,
        sku: Some(sku),
        kind: Some(body.kind),
        properties: if body.properties.is_object() {
            body.properties
        } else {
            json!({})
        },
        created_at: now,
        ready_at: now + CREATE_DURATION,
        deleting_until: None,
        failed: false,
    });
    let operation = operations::start(&mut world, &id, OperationKind::Create, now, CREATE_DURATION);
    operations::fail(&mut world, &operation.id, &id, failure.as_ref());
    let location_url = format!(
        "{}/subscriptions/{subscription}/providers/Microsoft.Storage/locations/{location}/asyncoperations/{}?monitor=true&api-version={}",
        sim.base_url(),
        operation.id,
        api_version(&uri)
    );
    Ok(operations::accepted(
        &sim,
        &location_url,
        None,
        CREATE_DURATION,
    ))
}

pub async fn delete(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> Result<StatusCode, ArmError> {
    let mut world = sim.world();
    world.require_resource_group(&group)?;
    let id = resource_id(&subscription, &group, TYPE, &name);
    Ok(
        if world.resources.remove(&id.to_ascii_lowercase()).is_some() {
            StatusCode::OK
        } else {
            StatusCode::NO_CONTENT
        },
    )
}
