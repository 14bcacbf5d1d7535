"""EC2 details moto 5.2.5 gets wrong for the network baseline.

* Gateway VPC endpoints have no private DNS: ``PrivateDnsEnabled`` is an interface-endpoint
  setting ("(Interface endpoint) Indicates whether to associate a private hosted zone",
  CreateVpcEndpointRequest in the service model). moto defaults it to true for every
  endpoint type; the emulator reports false for Gateway endpoints. What AWS answers when a
  request sets PrivateDnsEnabled=true on a Gateway endpoint is unknown in AWS: the emulator
  ignores it.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models.vpcs import VPCEndPoint

_original_init = VPCEndPoint.__init__


def _init(self: VPCEndPoint, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    if str(self.vpc_endpoint_type or "").lower() == "gateway":
        self.private_dns_enabled = False


VPCEndPoint.__init__ = _init  # type: ignore[method-assign]
