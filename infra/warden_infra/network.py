"""The domain's network: a VPC-only network created here, or an existing one adopted from config.

Created network: private subnets in at least two AZs (no internet gateway, no NAT, no public IP
mapping), one route table with only the local route and the S3 gateway endpoint, interface
endpoints with private DNS for what Studio calls, and two security groups:
- studio: members reach each other on every port (EFS NFS 2049, Jupyter/kernel traffic), and
  leave only for HTTPS to the endpoints and S3;
- endpoints: HTTPS in from the studio group only, nothing out.
No rule anywhere admits 0.0.0.0/0 or ::/0.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .aws_context import AwsContext
from .config import StackConfig

HTTPS = 443


@dataclass(frozen=True)
class Network:
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    studio_security_group_ids: list[pulumi.Input[str]]


def adopt_network(config: StackConfig) -> Network:
    return Network(
        vpc_id=config.vpc_id,
        subnet_ids=list(config.subnet_ids),
        studio_security_group_ids=list(config.security_group_ids),
    )


def subnet_cidrs(vpc_cidr: str, count: int) -> list[str]:
    """`count` equal private subnets carved from the start of the VPC range (a /16 gives /20s)."""
    network = ipaddress.ip_network(vpc_cidr)
    new_prefix = min(network.prefixlen + 4, 28)
    subnets = list(network.subnets(new_prefix=new_prefix))
    if len(subnets) < count:
        raise ValueError(f"vpcCidr {vpc_cidr} is too small for {count} subnets")
    return [str(s) for s in subnets[:count]]


def create_network(config: StackConfig, ctx: AwsContext) -> Network:
    # Regular AZs only: Local and Wavelength Zones lack most of the endpoint services.
    zones = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
    ).names
    if len(zones) < config.availability_zone_count:
        raise ValueError(f"{ctx.region} has {len(zones)} available AZs, availabilityZoneCount asks for {config.availability_zone_count}")
    zones = sorted(zones)[: config.availability_zone_count]

    vpc = aws.ec2.Vpc(
        "vpc",
        cidr_block=config.vpc_cidr,
        enable_dns_support=True,  # both required for interface endpoints' private DNS
        enable_dns_hostnames=True,
        tags=config.tags(Name=f"{config.name_prefix}-studio"),
    )
    route_table = aws.ec2.RouteTable(
        "private-routes",
        vpc_id=vpc.id,
        tags=config.tags(Name=f"{config.name_prefix}-private"),
        opts=pulumi.ResourceOptions(parent=vpc),
    )
    subnets = []
    for zone, cidr in zip(zones, subnet_cidrs(config.vpc_cidr, len(zones))):
        subnet = aws.ec2.Subnet(
            f"private-{zone}",
            vpc_id=vpc.id,
            availability_zone=zone,
            cidr_block=cidr,
            map_public_ip_on_launch=False,
            tags=config.tags(Name=f"{config.name_prefix}-private-{zone}"),
            opts=pulumi.ResourceOptions(parent=vpc),
        )
        aws.ec2.RouteTableAssociation(
            f"private-{zone}-routes",
            subnet_id=subnet.id,
            route_table_id=route_table.id,
            opts=pulumi.ResourceOptions(parent=subnet),
        )
        subnets.append(subnet)

    studio_sg = aws.ec2.SecurityGroup(
        "studio-sg",
        vpc_id=vpc.id,
        description="SageMaker Studio apps: traffic among members, HTTPS to endpoints and S3 only",
        tags=config.tags(Name=f"{config.name_prefix}-studio"),
        opts=pulumi.ResourceOptions(parent=vpc),
    )
    endpoints_sg = aws.ec2.SecurityGroup(
        "endpoints-sg",
        vpc_id=vpc.id,
        description="VPC interface endpoints: HTTPS from SageMaker Studio only",
        tags=config.tags(Name=f"{config.name_prefix}-endpoints"),
        opts=pulumi.ResourceOptions(parent=vpc),
    )

    # Studio: members talk to each other on every port and protocol. This covers NFS (TCP 2049)
    # to the domain's EFS volume and the traffic between JupyterServer and kernel apps.
    aws.vpc.SecurityGroupIngressRule(
        "studio-from-members",
        security_group_id=studio_sg.id,
        referenced_security_group_id=studio_sg.id,
        ip_protocol="-1",
        description="All traffic between Studio members (includes NFS 2049 to EFS)",
        opts=pulumi.ResourceOptions(parent=studio_sg),
    )
    aws.vpc.SecurityGroupEgressRule(
        "studio-to-members",
        security_group_id=studio_sg.id,
        referenced_security_group_id=studio_sg.id,
        ip_protocol="-1",
        description="All traffic between Studio members (includes NFS 2049 to EFS)",
        opts=pulumi.ResourceOptions(parent=studio_sg),
    )
    aws.vpc.SecurityGroupEgressRule(
        "studio-to-endpoints",
        security_group_id=studio_sg.id,
        referenced_security_group_id=endpoints_sg.id,
        ip_protocol="tcp",
        from_port=HTTPS,
        to_port=HTTPS,
        description="HTTPS to the VPC interface endpoints",
        opts=pulumi.ResourceOptions(parent=studio_sg),
    )
    aws.vpc.SecurityGroupIngressRule(
        "endpoints-from-studio",
        security_group_id=endpoints_sg.id,
        referenced_security_group_id=studio_sg.id,
        ip_protocol="tcp",
        from_port=HTTPS,
        to_port=HTTPS,
        description="HTTPS from SageMaker Studio",
        opts=pulumi.ResourceOptions(parent=endpoints_sg),
    )

    s3 = aws.ec2.VpcEndpoint(
        "s3-gateway",
        vpc_id=vpc.id,
        service_name=f"com.amazonaws.{ctx.region}.s3",
        vpc_endpoint_type="Gateway",
        route_table_ids=[route_table.id],
        tags=config.tags(Name=f"{config.name_prefix}-s3"),
        opts=pulumi.ResourceOptions(parent=vpc),
    )
    aws.vpc.SecurityGroupEgressRule(
        "studio-to-s3",
        security_group_id=studio_sg.id,
        prefix_list_id=s3.prefix_list_id,
        ip_protocol="tcp",
        from_port=HTTPS,
        to_port=HTTPS,
        description="HTTPS to S3 through the gateway endpoint",
        opts=pulumi.ResourceOptions(parent=studio_sg),
    )
    for service in config.interface_endpoints:
        aws.ec2.VpcEndpoint(
            f"endpoint-{service.replace('.', '-')}",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{ctx.region}.{service}",
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            subnet_ids=[s.id for s in subnets],
            security_group_ids=[endpoints_sg.id],
            tags=config.tags(Name=f"{config.name_prefix}-{service}"),
            opts=pulumi.ResourceOptions(parent=vpc),
        )

    return Network(vpc_id=vpc.id, subnet_ids=[s.id for s in subnets], studio_security_group_ids=[studio_sg.id])
