"""The wire contract of every request cutover sends, taken from Microsoft's own models.

Each request body is checked against the model of its operation in the official Azure SDKs for
Python pinned in requirements.txt (generated from the REST specification): every key must be a
property of the model (by its wire name) and writable, every required property present, every
value of the model's type, and every polymorphic `instanceType` a discriminator the model knows
(or the base model's own name, as the recorded examples send it). The `api-version` must be the
one the pinned SDK uses. Nothing here is written from cutover's or azure-sim's code.

    python contract.py REQUESTS.json     # a JSON list of {method, path, query, body}

prints one line per violation and exits 1 if there is any.
"""

import datetime
import enum
import json
import re
import sys
import typing

from azure.mgmt.network import models as network
from azure.mgmt.recoveryservices import models as recoveryservices
from azure.mgmt.recoveryservicessiterecovery import models as siterecovery
from azure.mgmt.resource.resources import models as resources
from azure.mgmt.storage import models as storage

# The api-version of each pinned SDK (its client's default).
API_VERSIONS = {
    "resources": "2025-04-01",
    "recoveryservices": "2026-11-01",
    "siterecovery": "2025-08-01",
    "storage": "2026-09-01",
    "network": "2026-03-01",
    "compute": "2024-07-01",
}

# What a client known to work on real Azure sends although the spec lacks it: accepted by name,
# with its source, never silently. (violation as reported, source)
EXCEPTIONS = [
    (
        "ReplicationFabrics_Create: body.properties.customDetails.instanceType: 'HyperVSite' is not a "
        "FabricSpecificCreationInput (known: Azure, FabricSpecificCreationInput, InMageRcm, VMwareV2)",
        "terraform-provider-azurerm creates a Hyper-V site with customDetails.instanceType 'HyperVSite', "
        "'not exposed in Swagger' (azure-rest-api-specs issue 22016)",
    ),
]

_VAULT = r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/vaults/[^/]+"
_FABRIC = _VAULT + r"/replicationfabrics/[^/]+"
_CONTAINER = _FABRIC + r"/replicationprotectioncontainers/[^/]+"
_ITEM = _CONTAINER + r"/replicationprotecteditems/[^/]+"
_GROUP = r"/subscriptions/[^/]+/resourcegroups/[^/]+"

# (operation ID in the REST spec, method, path pattern, SDK, model of the body or None for an
# operation without one). Paths are compared in lower case: ARM's are case-insensitive.
OPERATIONS = [
    ("ResourceGroups_CreateOrUpdate", "PUT", _GROUP, "resources", resources.ResourceGroup),
    ("ResourceGroups_Update", "PATCH", _GROUP, "resources", resources.ResourceGroupPatchable),
    ("ResourceGroups_Delete", "DELETE", _GROUP, "resources", None),
    ("Vaults_CreateOrUpdate", "PUT", _VAULT, "recoveryservices", recoveryservices.Vault),
    ("Vaults_Update", "PATCH", _VAULT, "recoveryservices", recoveryservices.PatchVault),
    ("Vaults_Delete", "DELETE", _VAULT, "recoveryservices", None),
    ("StorageAccounts_Create", "PUT", _GROUP + r"/providers/microsoft\.storage/storageaccounts/[^/]+", "storage", storage.StorageAccountCreateParameters),
    ("StorageAccounts_Delete", "DELETE", _GROUP + r"/providers/microsoft\.storage/storageaccounts/[^/]+", "storage", None),
    ("VirtualNetworks_CreateOrUpdate", "PUT", _GROUP + r"/providers/microsoft\.network/virtualnetworks/[^/]+", "network", network.VirtualNetwork),
    ("VirtualNetworks_Delete", "DELETE", _GROUP + r"/providers/microsoft\.network/virtualnetworks/[^/]+", "network", None),
    ("Subnets_CreateOrUpdate", "PUT", _GROUP + r"/providers/microsoft\.network/virtualnetworks/[^/]+/subnets/[^/]+", "network", network.Subnet),
    ("ReplicationFabrics_Create", "PUT", _FABRIC, "siterecovery", siterecovery.FabricCreationInput),
    ("ReplicationFabrics_Delete", "POST", _FABRIC + "/remove", "siterecovery", None),
    ("ReplicationProtectionContainers_Create", "PUT", _CONTAINER, "siterecovery", siterecovery.CreateProtectionContainerInput),
    ("ReplicationProtectionContainerMappings_Create", "PUT", _CONTAINER + r"/replicationprotectioncontainermappings/[^/]+", "siterecovery", siterecovery.CreateProtectionContainerMappingInput),
    ("ReplicationProtectionContainerMappings_Delete", "POST", _CONTAINER + r"/replicationprotectioncontainermappings/[^/]+/remove", "siterecovery", siterecovery.RemoveProtectionContainerMappingInput),
    ("ReplicationNetworkMappings_Create", "PUT", _FABRIC + r"/replicationnetworks/[^/]+/replicationnetworkmappings/[^/]+", "siterecovery", siterecovery.CreateNetworkMappingInput),
    ("ReplicationNetworkMappings_Delete", "DELETE", _FABRIC + r"/replicationnetworks/[^/]+/replicationnetworkmappings/[^/]+", "siterecovery", None),
    ("ReplicationPolicies_Create", "PUT", _VAULT + r"/replicationpolicies/[^/]+", "siterecovery", siterecovery.CreatePolicyInput),
    ("ReplicationPolicies_Delete", "DELETE", _VAULT + r"/replicationpolicies/[^/]+", "siterecovery", None),
    ("ReplicationProtectedItems_Create", "PUT", _ITEM, "siterecovery", siterecovery.EnableProtectionInput),
    ("ReplicationProtectedItems_Purge", "DELETE", _ITEM, "siterecovery", None),
    ("ReplicationProtectedItems_TestFailover", "POST", _ITEM + "/testfailover", "siterecovery", siterecovery.TestFailoverInput),
    ("ReplicationProtectedItems_TestFailoverCleanup", "POST", _ITEM + "/testfailovercleanup", "siterecovery", siterecovery.TestFailoverCleanupInput),
    ("ReplicationProtectedItems_PlannedFailover", "POST", _ITEM + "/plannedfailover", "siterecovery", siterecovery.PlannedFailoverInput),
    ("ReplicationProtectedItems_UnplannedFailover", "POST", _ITEM + "/unplannedfailover", "siterecovery", siterecovery.UnplannedFailoverInput),
    ("ReplicationProtectedItems_Update", "PATCH", _ITEM, "siterecovery", siterecovery.UpdateReplicationProtectedItemInput),
    ("ReplicationProtectedItems_FailoverCommit", "POST", _ITEM + "/failovercommit", "siterecovery", None),
    ("ReplicationProtectedItems_FailoverCancel", "POST", _ITEM + "/failovercancel", "siterecovery", None),
    ("ReplicationProtectedItems_Delete", "POST", _ITEM + "/remove", "siterecovery", siterecovery.DisableProtectionInput),
]


def _hints(cls):
    """The annotations of a model class, with the SDK's forward references resolved."""
    module = sys.modules[cls.__module__]
    namespace = dict(vars(module))
    namespace["_models"] = sys.modules[module.__name__.rsplit(".", 1)[0]]
    return typing.get_type_hints(cls, globalns=namespace)


def _fields(cls):
    """Wire name -> (attribute, rest field) of a model class."""
    if f"{cls.__module__}.{cls.__qualname__}" not in cls._calculated:
        cls({})  # the SDK computes a class's field table when it is first instantiated
    return {rf._rest_name: (attr, rf) for attr, rf in cls._attr_to_rest_field.items()}


def _is_model(annotation):
    return isinstance(annotation, type) and any(
        base.__module__.endswith("_utils.model_base") and base.__name__ == "Model" for base in annotation.__mro__
    )


def _writable(rf):
    visibility = rf._visibility
    return visibility is None or any(v in visibility for v in ("create", "update"))


def _resolve(cls, body, path, out):
    """The subtype a polymorphic body names by its discriminator, or `cls` itself."""
    while "__mapping__" in cls.__dict__:
        discriminator = next(
            (rf for rf in cls.__dict__.values() if getattr(rf, "_is_discriminator", False)), None
        )
        if discriminator is None:
            return cls
        value = body.get(discriminator._rest_name)
        mapping = cls.__mapping__
        if value in mapping and mapping[value] is not cls:
            cls = mapping[value]
            continue
        if value != cls.__name__:
            out.append(
                f"{path}.{discriminator._rest_name}: {value!r} is not a {cls.__name__} "
                f"(known: {', '.join(sorted([cls.__name__, *mapping]))})"
            )
        return cls
    return cls


def check_model(cls, body, path, out):
    if not isinstance(body, dict):
        out.append(f"{path}: expected an object ({cls.__name__}), got {type(body).__name__}")
        return
    cls = _resolve(cls, body, path, out)
    fields = _fields(cls)
    hints = _hints(cls)
    for key, value in body.items():
        if key not in fields:
            out.append(f"{path}.{key}: not a property of {cls.__name__}")
            continue
        attr, rf = fields[key]
        if not _writable(rf):
            out.append(f"{path}.{key}: read-only in {cls.__name__}")
            continue
        if value is None:
            # The SDKs' serializers leave an unset property out; a client sends no null.
            out.append(f"{path}.{key}: null (an unset property is left out)")
            continue
        check_value(hints.get(attr, typing.Any), value, f"{path}.{key}", out)
    for key, (attr, rf) in fields.items():
        annotation = hints.get(attr, typing.Any)
        optional = typing.get_origin(annotation) is typing.Union and type(None) in typing.get_args(annotation)
        if not optional and _writable(rf) and key not in body:
            out.append(f"{path}.{key}: required by {cls.__name__}")


def check_value(annotation, value, path, out):
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is typing.Any:
        return
    if origin is typing.Union:
        if value is None and type(None) in args:
            return
        options = [a for a in args if a is not type(None)]
        # Union[str, SomeEnum]: an extensible enum, any string.
        if any(a is str for a in options) and all(a is str or (isinstance(a, type) and issubclass(a, enum.Enum)) for a in options):
            if not isinstance(value, str):
                out.append(f"{path}: expected a string, got {json.dumps(value)}")
            return
        if len(options) == 1:
            check_value(options[0], value, path, out)
        return
    if origin is typing.Literal:
        if value not in args:
            out.append(f"{path}: {value!r} is not one of {list(args)}")
        return
    if origin is list:
        if not isinstance(value, list):
            out.append(f"{path}: expected a list, got {json.dumps(value)[:80]}")
            return
        for index, item in enumerate(value):
            check_value(args[0] if args else typing.Any, item, f"{path}[{index}]", out)
        return
    if origin is dict:
        if not isinstance(value, dict):
            out.append(f"{path}: expected a map, got {json.dumps(value)[:80]}")
            return
        for key, item in value.items():
            check_value(args[1] if len(args) > 1 else typing.Any, item, f"{path}.{key}", out)
        return
    if annotation is str or annotation in (datetime.datetime, datetime.date, datetime.timedelta):
        if not isinstance(value, str):
            out.append(f"{path}: expected a string, got {json.dumps(value)}")
        return
    if annotation is bool:
        if not isinstance(value, bool):
            out.append(f"{path}: expected a boolean, got {json.dumps(value)}")
        return
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(f"{path}: expected an integer, got {json.dumps(value)}")
        return
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append(f"{path}: expected a number, got {json.dumps(value)}")
        return
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if not isinstance(value, str):
            out.append(f"{path}: expected a string, got {json.dumps(value)}")
        return
    if _is_model(annotation):
        check_model(annotation, value, path, out)


def operation(method, path):
    lowered = path.lower().split("?", 1)[0]
    for name, op_method, pattern, sdk, model in OPERATIONS:
        if op_method == method and re.fullmatch(pattern, lowered):
            return name, sdk, model
    return None


def check_request(request):
    """Violations of one request ({method, path, query, body})."""
    method, path = request["method"], request["path"]
    found = operation(method, path)
    if found is None:
        return [f"{method} {path}: no operation of the pinned SDKs has this method and path"]
    name, sdk, model = found
    where = name
    out = []
    query = dict(
        pair.split("=", 1) for pair in (request.get("query") or "").split("&") if "=" in pair
    )
    if query.get("api-version") != API_VERSIONS[sdk]:
        out.append(f"{where}: api-version {query.get('api-version')!r}, the SDK's is {API_VERSIONS[sdk]!r}")
    body = request.get("body")
    if model is None:
        if body not in (None, {}, ""):
            out.append(f"{where}: the operation takes no body")
        return out
    if body is None:
        return out + [f"{where}: the operation needs a {model.__name__} body"]
    violations = []
    check_model(model, body, "body", violations)
    return out + [f"{where}: {v}" for v in violations]


def main(argv):
    with open(argv[1]) as f:
        requests = json.load(f)
    found = sorted({v for request in requests for v in check_request(request)})
    excepted = {violation: source for violation, source in EXCEPTIONS}
    violations = [v for v in found if v not in excepted]
    for violation in found:
        if violation in excepted:
            print(f"accepted by exception: {violation} ({excepted[violation]})", file=sys.stderr)
    for violation in violations:
        print(violation)
    print(f"{len(requests)} requests checked, {len(violations)} violations", file=sys.stderr)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
