"""Pulumi entry point for studio-warden: read the stack config, build the stack, export."""

import pulumi

from warden_infra.stack import build

for name, value in build().items():
    pulumi.export(name, value)
