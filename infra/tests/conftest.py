"""Run the Pulumi program against Pulumi's mocks (no CLI, no cloud) and record what it declares.

`synth(**config)` runs the whole program with the test policy and dummy function zips, and
returns every resource with the inputs the program gave it (what the engine would send to AWS),
plus the stack outputs. Results are cached per config, so each scenario runs once per session.
"""

from __future__ import annotations

import json
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pytest
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

INFRA_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(INFRA_DIR))

FIXTURES = Path(__file__).resolve().parent / "fixtures"
POLICY = FIXTURES / "policy.toml"
ACCOUNT = "111122223333"
PROJECT = "studio-warden"
SSO_APP_ARN = f"arn:aws:sso::{ACCOUNT}:application/ssoins-7223c3a1b2c3d4e5/apl-5b2d1c0e9f8a7b6c"
CREATED_DOMAIN_ID = "d-created0000x"


@dataclass
class Resource:
    type: str
    name: str
    inputs: dict
    outputs: dict


@dataclass
class Synth:
    resources: list[Resource] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)

    def of_type(self, typ: str) -> list[Resource]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Resource:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def by_output(self, typ: str, key: str, value) -> Resource:
        found = [r for r in self.of_type(typ) if r.outputs.get(key) == value]
        assert len(found) == 1, f"expected one resource with {key}={value}, found {[r.name for r in found]}"
        return found[0]

    def policy_documents(self) -> list[tuple[str, dict]]:
        """Every IAM policy document in the stack, with where it comes from."""
        docs = []
        for r in self.resources:
            for key in ("policy", "assumeRolePolicy"):
                raw = r.inputs.get(key)
                if isinstance(raw, str) and raw.strip().startswith("{"):
                    docs.append((f"{r.type} {r.name} {key}", json.loads(raw)))
            for inline in r.inputs.get("inlinePolicies") or []:
                docs.append((f"{r.type} {r.name} inline", json.loads(inline["policy"])))
        return docs

    def role_policy(self, role_name: str) -> dict:
        """The inline policy document attached to the role with this logical name."""
        role = self.named(role_name)
        docs = [json.loads(r.inputs["policy"]) for r in self.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == role.outputs["id"]]
        assert len(docs) == 1, f"expected one inline policy on {role_name}, found {len(docs)}"
        return docs[0]


def _service_of(typ: str) -> str:
    return {"cloudwatch": "events", "lambda": "lambda"}.get(typ.split(":")[1].split("/")[0], typ.split(":")[1].split("/")[0])


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, region: str, synth: Synth):
        self.region = region
        self.synth = synth

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = dict(args.inputs)
        region = inputs.get("region") or self.region
        name = inputs.get("name") or f"{args.name}-4f2a9c1"
        rid = f"{args.name}-id"
        out = dict(inputs, name=name)
        typ = args.typ
        prefix = f"arn:aws:{{}}:{region}:{ACCOUNT}"
        if typ == "aws:kms/key:Key":
            out.update(keyId=f"{args.name}-key-id", arn=f"{prefix.format('kms')}:key/{args.name}-key-id")
        elif typ == "aws:sns/topic:Topic":
            out["arn"] = f"{prefix.format('sns')}:{name}"
        elif typ == "aws:sqs/queue:Queue":
            out.update(arn=f"{prefix.format('sqs')}:{name}", url=f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{name}")
        elif typ == "aws:dynamodb/table:Table":
            out["arn"] = f"{prefix.format('dynamodb')}:table/{name}"
        elif typ == "aws:lambda/function:Function":
            out["arn"] = f"{prefix.format('lambda')}:function:{name}"
        elif typ == "aws:iam/role:Role":
            out["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{name}"
            rid = name
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            out["arn"] = f"{prefix.format('events')}:rule/{name}"
        elif typ == "aws:cloudwatch/eventBus:EventBus":
            out["arn"] = f"{prefix.format('events')}:event-bus/{name}"
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            out["arn"] = f"{prefix.format('logs')}:log-group:{name}"
        elif typ == "aws:sagemaker/domain:Domain":
            rid = CREATED_DOMAIN_ID
            out.update(
                arn=f"{prefix.format('sagemaker')}:domain/{rid}",
                url=f"https://{rid}.studio.{region}.sagemaker.aws",
                homeEfsFileSystemId="fs-0123456789abcdef0",
            )
            if inputs.get("authMode") == "SSO":
                out["singleSignOnApplicationArn"] = SSO_APP_ARN
        elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            if inputs.get("vpcEndpointType") == "Gateway":
                out["prefixListId"] = "pl-63a5400a"
        else:
            out.setdefault("arn", f"{prefix.format(_service_of(typ))}:{args.name}")
        out["id"] = rid
        self.synth.resources.append(Resource(type=typ, name=args.name, inputs=inputs, outputs=out))
        return rid, out

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer", "userId": "AIDAEXAMPLE", "id": ACCOUNT}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{z}" for z in "abc"]
            return {"names": names, "zoneIds": [f"use1-az{i}" for i in range(1, 4)], "id": self.region}
        raise AssertionError(f"unexpected invoke {args.token}")


def run_program(config: dict, region: str = "us-east-1") -> Synth:
    """Run infra/__main__'s program under mocks with this stack config."""
    synth = Synth()
    pulumi.runtime.set_mocks(RecordingMocks(region, synth), project=PROJECT, stack="test", preview=False)
    values = {"aws:region": region}
    for key, value in config.items():
        values[f"{PROJECT}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    pulumi.runtime.set_all_config(values)

    def program():
        from warden_infra.stack import build

        return pulumi.Output.all(**build()).apply(synth.outputs.update)

    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    _sync_await(run_pulumi_func(lambda: _sync_await(pulumi.Output.from_input(program()).future())))
    return synth


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory) -> Path:
    """Dummy cargo-lambda zips: the program must find them, nothing reads them under mocks."""
    root = tmp_path_factory.mktemp("lambda")
    for name in ("membership-sync", "compliance-sweep"):
        (root / name).mkdir()
        with zipfile.ZipFile(root / name / "bootstrap.zip", "w") as archive:
            archive.writestr("bootstrap", "#!/bin/sh\n")
            archive.writestr("policy.toml", POLICY.read_text())
    return root


@pytest.fixture(scope="session")
def synth(artifact_dir):
    cache: dict[str, Synth] = {}

    def run(region: str = "us-east-1", **overrides) -> Synth:
        config = {"policyFile": str(POLICY), "artifactDir": str(artifact_dir), **overrides}
        key = json.dumps([region, config], sort_keys=True)
        if key not in cache:
            cache[key] = run_program(config, region)
        return cache[key]

    return run


@pytest.fixture(scope="session")
def stack(synth) -> Synth:
    """The default deployment: IAM-mode domain and VPC-only network created by the stack."""
    return synth()


@pytest.fixture(scope="session")
def sso_stack(synth) -> Synth:
    return synth(domainAuthMode="SSO")
