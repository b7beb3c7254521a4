"""Generates azure-sim's request contract from Microsoft's own SDKs.

azure-sim checks every request against `simulator/contract/schema.json`: the operations it
serves (method, path template, api-version, the model of the body) and every model a body can
hold (wire names, required and read-only properties, types, enum values, polymorphic
`instanceType` discriminators). All of it is read here from the official Azure SDKs for Python
pinned in requirements.txt, which are generated from the REST specification: the operations
from each SDK's `build_*_request` functions (method, URL template, default api-version) and the
operation methods that call them (the model of the body), the models from their field tables.
Nothing in the schema is written by hand; the one choice made here is which operation groups
azure-sim serves (SERVED).

    python schema.py > ../../simulator/contract/schema.json     # write it (from tests/conformance)
    python schema.py --check ../../simulator/contract/schema.json   # CI: is it current?
"""

import ast
import enum
import importlib
import importlib.metadata
import inspect
import json
import os
import re
import sys
import typing

from contract import EXCEPTIONS as CONTRACT_EXCEPTIONS
from contract import _fields, _hints, _is_model, _writable

# SDK module -> (distribution, the operation groups azure-sim serves; None for all of them).
SERVED = {
    "azure.mgmt.resource.resources": ("azure-mgmt-resource", {"ResourceGroups", "Providers", "Resources"}),
    "azure.mgmt.recoveryservices": ("azure-mgmt-recoveryservices", {"Vaults"}),
    "azure.mgmt.recoveryservicessiterecovery": ("azure-mgmt-recoveryservicessiterecovery", None),
    "azure.mgmt.storage": ("azure-mgmt-storage", {"StorageAccounts"}),
    "azure.mgmt.network": ("azure-mgmt-network", {"VirtualNetworks", "Subnets", "NetworkInterfaces"}),
    "azure.mgmt.compute": ("azure-mgmt-compute", {"Usage", "ResourceSkus"}),
}

# What a client known to work on real Azure sends although the spec lacks it, carried as a named
# exception with its source (the same ones tests/conformance/contract.py accepts):
# (model, discriminator value, the model it is read as).
SUBTYPE_EXCEPTIONS = [
    (
        "recoveryservicessiterecovery:FabricSpecificCreationInput",
        "HyperVSite",
        "recoveryservicessiterecovery:FabricSpecificCreationInput",
    )
]


def _literal(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def build_functions(tree):
    """`build_*_request` name -> (method, URL template, default api-version)."""
    found = {}
    for function in tree.body:
        if not (isinstance(function, ast.FunctionDef) and function.name.startswith("build_")):
            continue
        method = url = api_version = None
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_url" for t in node.targets
            ):
                url = _literal(node.value) or url
            if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "_url":
                url = _literal(node.value) or url
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "HttpRequest":
                for keyword in node.keywords:
                    if keyword.arg == "method":
                        method = _literal(keyword.value)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "pop"
                and len(node.args) == 2
                and _literal(node.args[0]) == "api-version"
            ):
                api_version = _literal(node.args[1])
        if method and url:
            found[function.name] = (method, url, api_version)
    return found


def _pascal(name):
    name = name.strip("_")
    name = re.sub(r"^begin_", "", name)
    name = re.sub(r"_initial$", "", name)
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def operations(module_name, groups):
    """The operations of one SDK: [{id, method, path, apiVersion, body}]."""
    module = importlib.import_module(f"{module_name}.operations._operations")
    tree = ast.parse(inspect.getsource(module))
    builders = build_functions(tree)
    found = {}
    for cls in tree.body:
        if not (isinstance(cls, ast.ClassDef) and cls.name.endswith("Operations")):
            continue
        group = cls.name[: -len("Operations")]
        if groups is not None and group not in groups:
            continue
        for function in cls.body:
            if not isinstance(function, ast.FunctionDef):
                continue
            called = [
                node.func.id
                for node in ast.walk(function)
                if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in builders
            ]
            if not called:
                continue
            body = None
            body_required = False
            for argument in function.args.args + function.args.kwonlyargs:
                annotation = ast.unparse(argument.annotation) if argument.annotation else ""
                model = re.search(r"_models\.(\w+)", annotation)
                if model and "IO[bytes]" in annotation:
                    body = model.group(1)
                    body_required = not annotation.startswith("Optional[")
            method, url, api_version = builders[called[0]]
            if url.startswith("/{") or "{parentResourcePath}" in url:
                # A generic by-ID template matches any resource's path; the resource's own
                # operation is the one that applies.
                continue
            operation_id = f"{group}_{_pascal(function.name)}"
            found[operation_id] = {
                "id": operation_id,
                "method": method,
                "path": url,
                "apiVersion": api_version,
                "body": body,
                "bodyRequired": body_required,
            }
    return list(found.values())


def key(cls):
    """A model's name in the schema: its SDK's package, then its own name (`storage:Sku`), as
    SDKs share model names."""
    package = cls.__module__.split(".models", 1)[0].removeprefix("azure.mgmt.")
    return f"{package}:{cls.__name__}"


def type_of(annotation, models, pending):
    """The schema of a type annotation; models it names are queued in `pending`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is typing.Any:
        return "any"
    if origin is typing.Union:
        options = [a for a in args if a is not type(None)]
        enums = [a for a in options if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and all(a is str or a in enums for a in options):
            # Union[str, SomeEnum]: an extensible enum (x-ms-enum modelAsString).
            return {"enum": sorted({e.value for cls in enums for e in cls}), "open": True}
        if len(options) == 1:
            return type_of(options[0], models, pending)
        return "any"
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin is list:
        return {"list": type_of(args[0] if args else typing.Any, models, pending)}
    if origin is dict:
        return {"map": type_of(args[1] if len(args) > 1 else typing.Any, models, pending)}
    if annotation is str:
        return "string"
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    if getattr(annotation, "__module__", None) == "datetime":
        return "string"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": sorted(e.value for e in annotation)}
    if _is_model(annotation):
        pending.append(annotation)
        return {"model": key(annotation)}
    return "any"


def model_schema(cls, models, pending):
    fields = _fields(cls)
    hints = _hints(cls)
    schema = {"properties": {}}
    if "__mapping__" in cls.__dict__:
        discriminator = next(
            (rf for rf in cls.__dict__.values() if getattr(rf, "_is_discriminator", False)), None
        )
        if discriminator is not None:
            schema["discriminator"] = discriminator._rest_name
            schema["subtypes"] = {}
            for value, subtype in sorted(cls.__mapping__.items()):
                if subtype is not cls:
                    schema["subtypes"][value] = key(subtype)
                    pending.append(subtype)
    for wire, (attr, rf) in sorted(fields.items()):
        if not _writable(rf):
            schema["properties"][wire] = {"readOnly": True}
            continue
        annotation = hints.get(attr, typing.Any)
        optional = typing.get_origin(annotation) is typing.Union and type(None) in typing.get_args(annotation)
        entry = {"type": type_of(annotation, models, pending)}
        if not optional:
            entry["required"] = True
        schema["properties"][wire] = entry
    return schema


def spec_api_versions():
    """Versions of the REST specification accepted besides each SDK's own (spec-api-versions.json)."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "spec-api-versions.json")) as f:
        document = json.load(f)
    return {sdk: entry["versions"] for sdk, entry in document.items() if sdk != "comment"}


def generate():
    extra_versions = spec_api_versions()
    all_operations = []
    models = {}
    pending = []
    sdks = {}
    for module_name, (distribution, groups) in SERVED.items():
        sdks[distribution] = importlib.metadata.version(distribution)
        module_models = importlib.import_module(f"{module_name}.models")
        for operation in operations(module_name, groups):
            operation["sdk"] = distribution
            default = operation.pop("apiVersion")
            operation["apiVersions"] = [default, *[v for v in extra_versions.get(distribution, []) if v != default]]
            if operation["body"]:
                model = getattr(module_models, operation["body"])
                operation["body"] = key(model)
                pending.append(model)
            all_operations.append(operation)
    while pending:
        cls = pending.pop()
        if key(cls) in models:
            continue
        models[key(cls)] = None  # claimed: a recursive model refers to itself
        models[key(cls)] = model_schema(cls, models, pending)
    exceptions = []
    for model, value, read_as in SUBTYPE_EXCEPTIONS:
        source = next(source for violation, source in CONTRACT_EXCEPTIONS if repr(value) in violation)
        models[model]["subtypes"][value] = read_as
        exceptions.append({"model": model, "subtype": value, "readAs": read_as, "source": source})
    return {
        "comment": "Generated by tests/conformance/schema.py from the official Azure SDKs for Python; do not edit.",
        "sdks": sdks,
        "operations": sorted(all_operations, key=lambda o: (o["path"].lower(), o["method"], o["id"])),
        "models": dict(sorted(models.items())),
        "exceptions": exceptions,
    }


def render():
    return json.dumps(generate(), indent=1, sort_keys=False) + "\n"


def main(argv):
    text = render()
    if len(argv) == 3 and argv[1] == "--check":
        with open(argv[2]) as f:
            if f.read() != text:
                print(
                    f"{argv[2]} is not what tests/conformance/schema.py generates from the pinned SDKs; "
                    f"run (in tests/conformance): python schema.py > {argv[2]}",
                    file=sys.stderr,
                )
                return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
