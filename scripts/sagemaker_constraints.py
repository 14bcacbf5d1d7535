"""Extract SageMaker's request constraints for the settings a policy carries.

    $WARDEN_PYTHON scripts/sagemaker_constraints.py          # rewrite the file
    $WARDEN_PYTHON scripts/sagemaker_constraints.py --check  # exit 1 if it is stale

botocore's ``sagemaker`` service model (``service-2.json``, the venv's pinned botocore, the
same model the emulator validates requests with: tests/emulator/validate.py) says what AWS's
front end refuses before SageMaker looks at a request: string length and pattern, enum values,
list sizes, required members. This script copies, for the two calls that carry a policy's
settings (CreateUserProfile, UpdateUserProfile, and CreateSpace for the private space created
with a profile), exactly the request members a policy sets,
with those constraints and nothing else, into ``shared/sagemaker-constraints.json``. The
policy loader (shared/src/policy/constraints.rs) walks a mapping's settings against it at
cold start and in ``make check-policy``.

The output is a pruned copy of the model: ``operations`` names each call's input shape, and
``shapes`` holds every shape reachable from the kept members (structures keep only those
members, and ``required`` only among them), with the model's ``type``, ``min``, ``max``,
``pattern`` and ``enum``. One addition comes from AWS's documentation rather than the model,
and says so in its ``source``: tag keys beginning with ``aws:`` are AWS's.

``tests/emulator/tests/test_policy_constraints.py`` (``make test``) regenerates it from the
venv's botocore and fails if the checked-in file differs: a botocore upgrade that changes a
constraint, or a new policy field added here, shows up as a diff to commit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "shared" / "sagemaker-constraints.json"
SERVICE = "sagemaker"

# The request members a policy sets, as the adapter sends them (shared/src/adapters/sagemaker.rs:
# create_profile, update_profile, user_settings). The policy field each comes from is named in
# shared/src/policy/constraints.rs, which builds the request from a mapping.
USER_SETTINGS = [
    "UserSettings.ExecutionRole",  # mappings[].execution_role
    "UserSettings.SecurityGroups",  # mappings[].security_groups
    "UserSettings.DefaultLandingUri",  # mappings[].apps.default_landing_uri
    "UserSettings.JupyterLabAppSettings.DefaultResourceSpec.InstanceType",  # .jupyterlab_instance_type
    "UserSettings.JupyterLabAppSettings.LifecycleConfigArns",  # .jupyterlab_lifecycle_config_arns
    "UserSettings.CodeEditorAppSettings.DefaultResourceSpec.InstanceType",  # .code_editor_instance_type
    # Per app type (apps.jupyterlab_* and apps.code_editor_*): the default lifecycle
    # configuration and image, the custom images, idle shutdown (IdleSettings: the implied
    # LifecycleManagement and the three *_idle_timeout_minutes).
    *(
        f"UserSettings.{app}AppSettings.{member}"
        for app in ("JupyterLab", "CodeEditor")
        for member in (
            "DefaultResourceSpec.LifecycleConfigArn",  # ._default_lifecycle_config_arn
            "DefaultResourceSpec.SageMakerImageArn",  # ._image_arn
            "CustomImages",  # ._custom_images
            "AppLifecycleManagement.IdleSettings",  # ._idle_timeout_minutes, ._min_..., ._max_...
        )
    ),
    "UserSettings.CodeEditorAppSettings.LifecycleConfigArns",  # .code_editor_lifecycle_config_arns
    "UserSettings.StudioWebPortalSettings.HiddenInstanceTypes",  # .hidden_instance_types
]
MEMBERS = {
    "CreateUserProfile": ["DomainId", "Tags", *USER_SETTINGS],  # domains[].id, mappings[].tags
    "UpdateUserProfile": ["DomainId", *USER_SETTINGS],  # takes no tags
    # mappings[].private_space: the space created with the profile. SpaceDisplayName is left
    # out: its pattern, (?!\s*$).+, needs a look-ahead the policy's regex crate lacks, so the
    # policy checks it itself (not blank, at most 64 characters: NonEmptyString64), and
    # tests/emulator/tests/test_policy_constraints.py holds that check to the model.
    "CreateSpace": ["DomainId", "SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb"],
}

# What AWS documents but the model does not say, by shape name.
DOCUMENTED = {
    "TagKey": {
        "reserved_prefix": {
            "prefix": "aws:",
            "ignore_case": True,
            "source": (
                "AWS's tagging guide reserves the aws: prefix (any case) for AWS; SageMaker answers "
                "ValidationException \"System prefix 'aws:' reserved for AWS usage in tag key\" "
                "(aws/sagemaker-python-sdk#1301); the emulator refuses it too"
            ),
        }
    }
}

CONSTRAINT_KEYS = ("min", "max", "pattern", "enum")


def model() -> dict[str, Any]:
    return botocore.loaders.Loader().load_service_model(SERVICE, "service-2")


def prune(service: dict[str, Any]) -> dict[str, Any]:
    """The pruned model: for each operation its input shape, and every shape the kept members
    reach, with only the kept structure members."""
    shapes = service["shapes"]
    # shape name -> member names kept (structures), built from the member paths.
    keep: dict[str, set[str]] = {}
    operations: dict[str, str] = {}
    for operation, paths in MEMBERS.items():
        request = service["operations"][operation]["input"]["shape"]
        operations[operation] = request
        for path in paths:
            shape_name = request
            for member in path.split("."):
                shape = shapes[shape_name]
                if shape.get("type") != "structure" or member not in shape.get("members", {}):
                    raise SystemExit(f"{operation}: {path}: {shape_name} has no member {member}")
                keep.setdefault(shape_name, set()).add(member)
                shape_name = shape["members"][member]["shape"]
            keep.setdefault(shape_name, set())

    out: dict[str, Any] = {}

    def copy(name: str) -> None:
        if name in out:
            return
        shape = shapes[name]
        kind = shape["type"]
        entry: dict[str, Any] = {"type": kind}
        entry.update({k: shape[k] for k in CONSTRAINT_KEYS if k in shape})
        if kind == "structure":
            # A kept structure keeps the members on a path; a structure at the end of a path
            # (a list's member, Tag) keeps them all.
            names = sorted(keep.get(name) or shape["members"])
            entry["members"] = {m: shape["members"][m]["shape"] for m in names}
            required = [m for m in shape.get("required", []) if m in entry["members"]]
            if required:
                entry["required"] = required
            for m in names:
                copy(shape["members"][m]["shape"])
        elif kind == "list":
            entry["member"] = shape["member"]["shape"]
            copy(entry["member"])
        elif kind == "map":
            entry["key"] = shape["key"]["shape"]
            entry["value"] = shape["value"]["shape"]
            copy(entry["key"])
            copy(entry["value"])
        if name in DOCUMENTED:
            entry.update(DOCUMENTED[name])
        out[name] = entry

    for request in operations.values():
        copy(request)
    return {"operations": operations, "shapes": dict(sorted(out.items()))}


def render() -> str:
    service = model()
    pruned = prune(service)
    document = {
        "about": (
            "SageMaker's request constraints on the members a studio-warden policy sets, copied from "
            "botocore's service model. Generated by scripts/sagemaker_constraints.py; do not edit."
        ),
        "botocore": botocore.__version__,
        "service": SERVICE,
        "api_version": service["metadata"]["apiVersion"],
        **pruned,
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run scripts/sagemaker_constraints.py to regenerate it", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} (botocore {botocore.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
