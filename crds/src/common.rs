//! Types shared by the three kinds: references, Azure pieces that are created or adopted,
//! deletion policy, and the name patterns Azure and Kubernetes accept.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// API group of every cutover resource.
pub const GROUP: &str = "cutover.dev";
/// The one served and stored version.
pub const VERSION: &str = "v1alpha1";

// Patterns are written in the subset that both Go's RE2 (the API server) and Rust's `regex`
// understand, so the schema and any client-side check agree.

/// A GUID as Entra ID and ARM write them.
pub const GUID_PATTERN: &str =
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// Azure region names as ARM spells them (`westeurope`); the list is checked by `validate()`.
pub const REGION_PATTERN: &str = r"^[a-z][a-z0-9]{2,39}$";
/// ARM resource group names: 1-90 of letters, digits, `-_.()`, not ending in a period.
pub const RESOURCE_GROUP_PATTERN: &str = r"^[-\w.()]{0,89}[-\w()]$";
/// An ARM resource ID of a resource inside a resource group.
/// ARM compares its keywords without case, and Site Recovery writes `/Subscriptions/...`
/// (every 2025-08-01 example), so each keyword matches in any casing (a JSON Schema pattern has
/// no case-insensitive flag).
pub const RESOURCE_ID_PATTERN: &str = r"^/[Ss][Uu][Bb][Ss][Cc][Rr][Ii][Pp][Tt][Ii][Oo][Nn][Ss]/[0-9a-fA-F-]{36}/[Rr][Ee][Ss][Oo][Uu][Rr][Cc][Ee][Gg][Rr][Oo][Uu][Pp][Ss]/[^/]+/[Pp][Rr][Oo][Vv][Ii][Dd][Ee][Rr][Ss]/[^/]+(/[^/]+/[^/]+)+$";
/// An IPv4 address block in CIDR notation; octet ranges are checked by `validate()`.
pub const CIDR_PATTERN: &str = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$";
/// An IPv4 address; octet ranges are checked by `validate()`.
pub const IPV4_PATTERN: &str = r"^([0-9]{1,3}\.){3}[0-9]{1,3}$";
/// A DNS host name or FQDN (VMM servers, Hyper-V hosts, vCenter).
pub const HOSTNAME_PATTERN: &str = r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$";
/// A Kubernetes object name usable as a label value (RFC 1123 label).
pub const DNS_LABEL_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
/// A Kubernetes object name (RFC 1123 subdomain), such as a ServiceAccount's.
pub const DNS_SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// Names of Azure resources that allow letters, digits, `._-` (VNets, subnets, ASR objects).
pub const AZURE_NAME_PATTERN: &str = r"^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,78}[a-zA-Z0-9_])?$";

/// A reference to another cutover object in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct LocalObjectReference {
    /// Name of the object, in the namespace of the referring object.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"))]
    pub name: String,
}

/// What happens in Azure when the Kubernetes object is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Leave everything in Azure as it is (the default: these objects hold replicated data).
    #[default]
    Retain,
    /// Tear down what cutover created, child first, and wait for each deletion.
    Delete,
}

/// An Azure resource that cutover either creates (and owns) or adopts by resource ID.
///
/// Exactly one of `create` and `existingId` is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AzureResource<T> {
    /// Create the resource with these properties, and keep it as declared.
    Create(T),
    /// Adopt an existing resource; cutover never changes what the spec does not ask for.
    ExistingId(ResourceId),
}

impl<T> AzureResource<T> {
    /// The properties to create with, when the resource is created by cutover.
    pub fn created(&self) -> Option<&T> {
        match self {
            AzureResource::Create(spec) => Some(spec),
            AzureResource::ExistingId(_) => None,
        }
    }
}

/// An ARM resource ID (`/subscriptions/…/resourceGroups/…/providers/…`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(transparent)]
pub struct ResourceId(pub String);

impl ResourceId {
    /// The segment after `segment` (case-insensitive, as ARM compares them), if present.
    pub fn segment_after(&self, segment: &str) -> Option<&str> {
        let mut parts = self.0.split('/');
        while let Some(part) = parts.next() {
            if part.eq_ignore_ascii_case(segment) {
                return parts.next().filter(|s| !s.is_empty());
            }
        }
        None
    }

    /// The subscription the resource lives in.
    pub fn subscription(&self) -> Option<&str> {
        self.segment_after("subscriptions")
    }

    /// The resource group the resource lives in.
    pub fn resource_group(&self) -> Option<&str> {
        self.segment_after("resourceGroups")
    }

    /// The last segment: the resource's own name.
    pub fn name(&self) -> Option<&str> {
        self.0.rsplit('/').next().filter(|s| !s.is_empty())
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for ResourceId {
    fn schema_name() -> Cow<'static, str> {
        "ResourceId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": RESOURCE_ID_PATTERN,
            "description": "An ARM resource ID, /subscriptions/{id}/resourceGroups/{group}/providers/{namespace}/{type}/{name}."
        })
    }
}

/// For `skip_serializing_if` on fields inside list items: leaving their default out of the
/// schema keeps the API server from filling it in, so a re-applied list equals the live one
/// and GitOps tools and `kubectl apply` see no diff.
pub fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Azure resource tags, with ARM's limits checked by `validate()`.
pub type Tags = std::collections::BTreeMap<String, String>;
