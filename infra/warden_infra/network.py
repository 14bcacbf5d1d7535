"""The domain's network: a VPC-only network created here, or an existing one adopted from config.

Created network: private subnets in at least two AZs (no internet gateway, no NAT, no public IP
mapping), one route table with only the local route and the S3 gateway endpoint, interface
endpoints with private DNS for what Studio calls, and two security groups:
- studio: members reach each other only on the ports AWS documents for Studio in a VPC (NFS,
  TCP 2049, to the domain's EFS; TCP 8192-65535 between apps), and leave only for HTTPS to the
  endpoints and S3;
- endpoints: HTTPS in from the studio group only, nothing out.
No rule anywhere admits 0.0.0.0/0 or ::/0. The VPC's default security group keeps no rules (it is
adopted and emptied), every endpoint has a policy (this account's principals; S3: this account's or
organisation's buckets, plus ECR's layer bucket), and the VPC's flow logs go to CloudWatch Logs.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from . import iam
from .aws_context import AwsContext
from .config import StackConfig

HTTPS = 443
NFS = 2049
# "Connect Studio notebooks in a VPC to external resources": NFS to the domain's EFS volume, and
# TCP 8192-65535 between the JupyterServer/KernelGateway (and JupyterLab) apps.
STUDIO_APP_PORTS = (8192, 65535)


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

    # Studio members talk to each other only on the ports Studio documents.
    for rule, (low, high), what in (
        ("nfs", (NFS, NFS), "NFS to the domain's EFS volume"),
        ("apps", STUDIO_APP_PORTS, "traffic between Studio apps"),
    ):
        aws.vpc.SecurityGroupIngressRule(
            f"studio-from-members-{rule}",
            security_group_id=studio_sg.id,
            referenced_security_group_id=studio_sg.id,
            ip_protocol="tcp",
            from_port=low,
            to_port=high,
            description=f"Studio members: {what}",
            opts=pulumi.ResourceOptions(parent=studio_sg),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"studio-to-members-{rule}",
            security_group_id=studio_sg.id,
            referenced_security_group_id=studio_sg.id,
            ip_protocol="tcp",
            from_port=low,
            to_port=high,
            description=f"Studio members: {what}",
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

    # The default security group keeps no rules: anything launched without a group is isolated.
    aws.ec2.DefaultSecurityGroup(
        "default-sg",
        vpc_id=vpc.id,
        ingress=[],
        egress=[],
        tags=config.tags(Name=f"{config.name_prefix}-default-closed"),
        opts=pulumi.ResourceOptions(parent=vpc),
    )
    _flow_logs(config, ctx, vpc)

    s3 = aws.ec2.VpcEndpoint(
        "s3-gateway",
        vpc_id=vpc.id,
        service_name=f"com.amazonaws.{ctx.region}.s3",
        vpc_endpoint_type="Gateway",
        route_table_ids=[route_table.id],
        policy=json.dumps(s3_endpoint_policy(ctx, config.s3_organization_id)),
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
            policy=json.dumps(interface_endpoint_policy(ctx)),
            tags=config.tags(Name=f"{config.name_prefix}-{service}"),
            opts=pulumi.ResourceOptions(parent=vpc),
        )

    return Network(vpc_id=vpc.id, subnet_ids=[s.id for s in subnets], studio_security_group_ids=[studio_sg.id])


def s3_endpoint_policy(ctx: AwsContext, organization_id: str | None) -> dict:
    """The S3 gateway endpoint reaches this account's buckets (or the organisation's, with
    s3EndpointOrganizationId), and ECR's layer bucket, from which image pulls are served."""
    scope = (
        {"StringEquals": {"aws:ResourceOrgID": organization_id}}
        if organization_id
        else {"StringEquals": {"aws:ResourceAccount": ctx.account}}
    )
    return iam.document(
        {
            "Sid": "OwnBuckets",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": "*",
            "Condition": scope,
        },
        {
            "Sid": "EcrImageLayers",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:GetObject",
            "Resource": f"arn:{ctx.partition}:s3:::prod-{ctx.region}-starport-layer-bucket/*",
        },
    )


def interface_endpoint_policy(ctx: AwsContext) -> dict:
    """An interface endpoint serves this account's principals only."""
    return iam.document(
        {
            "Sid": "ThisAccountsPrincipals",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": ctx.account}},
        }
    )


def _flow_logs(config: StackConfig, ctx: AwsContext, vpc: aws.ec2.Vpc) -> None:
    """Every accepted and rejected flow of the VPC, to a log group of the stack."""
    group = aws.cloudwatch.LogGroup(
        "vpc-flow-logs",
        name=f"/studio-warden/{config.name_prefix}/vpc-flow-logs",
        retention_in_days=config.log_retention_days,
        tags=config.tags(),
        opts=pulumi.ResourceOptions(parent=vpc),
    )
    role = aws.iam.Role(
        "vpc-flow-logs-role",
        description="VPC Flow Logs: delivers the Studio VPC's flow logs to their log group",
        assume_role_policy=json.dumps(iam.assume_role_policy("vpc-flow-logs.amazonaws.com", ctx.account)),
        tags=config.tags(),
        opts=pulumi.ResourceOptions(parent=vpc),
    )
    aws.iam.RolePolicy(
        "vpc-flow-logs-policy",
        role=role.id,
        policy=group.arn.apply(
            lambda arn: json.dumps(
                iam.document(
                    iam.statement(
                        "WriteFlowLogs",
                        ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        [arn, f"{arn}:*"],
                    )
                )
            )
        ),
        opts=pulumi.ResourceOptions(parent=role),
    )
    aws.ec2.FlowLog(
        "vpc-flow-log",
        vpc_id=vpc.id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=group.arn,
        iam_role_arn=role.arn,
        tags=config.tags(),
        opts=pulumi.ResourceOptions(parent=vpc),
    )
