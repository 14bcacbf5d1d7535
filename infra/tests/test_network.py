"""The created network is VPC-only and closed to the internet; an adopted one is left alone."""

import ipaddress
import json

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SUBNET = "aws:ec2/subnet:Subnet"
NFS = 2049
PUBLIC_CIDRS = {"0.0.0.0/0", "::/0"}


def sg_id(stack, name):
    return stack.named(name).outputs["id"]


def test_private_subnets_span_at_least_two_availability_zones(stack):
    subnets = stack.of_type(SUBNET)
    assert len({s.inputs["availabilityZone"] for s in subnets}) >= 2
    for subnet in subnets:
        assert subnet.inputs.get("mapPublicIpOnLaunch") is False, f"{subnet.name} maps public IPs"
        assert not subnet.inputs.get("assignIpv6AddressOnCreation")
        assert ipaddress.ip_network(subnet.inputs["cidrBlock"]).subnet_of(ipaddress.ip_network(stack.named("vpc").inputs["cidrBlock"]))


def test_no_path_to_the_internet(stack):
    for typ in (
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/route:Route",
    ):
        assert not stack.of_type(typ), f"the VPC-only network must not create {typ}"
    for table in stack.of_type("aws:ec2/routeTable:RouteTable"):
        assert not table.inputs.get("routes"), "private route table has routes beyond local and S3"


def test_interface_endpoints_studio_needs_have_private_dns_in_every_subnet(stack):
    required = {"sagemaker.api", "sagemaker.runtime", "sts", "logs"}
    subnets = {s.outputs["id"] for s in stack.of_type(SUBNET)}
    interface = [e for e in stack.of_type(ENDPOINT) if e.inputs.get("vpcEndpointType") == "Interface"]
    services = {e.inputs["serviceName"].removeprefix("com.amazonaws.us-east-1.") for e in interface}
    assert required <= services, f"missing endpoints: {required - services}"
    for endpoint in interface:
        assert endpoint.inputs.get("privateDnsEnabled") is True, f"{endpoint.name} without private DNS"
        assert set(endpoint.inputs["subnetIds"]) == subnets
        assert endpoint.inputs["securityGroupIds"] == [sg_id(stack, "endpoints-sg")]


def test_s3_is_reached_through_a_gateway_endpoint_on_the_private_routes(stack):
    gateway = [e for e in stack.of_type(ENDPOINT) if e.inputs.get("vpcEndpointType") == "Gateway"]
    assert [g.inputs["serviceName"] for g in gateway] == ["com.amazonaws.us-east-1.s3"]
    assert gateway[0].inputs["routeTableIds"] == [stack.named("private-routes").outputs["id"]]


def test_no_security_group_rule_opens_to_the_internet(stack):
    """Walks inline rules and standalone rules alike: no 0.0.0.0/0 or ::/0 ingress anywhere,
    and no ingress from any CIDR at all (Studio ingress is by security group only)."""
    for group in stack.of_type(SG):
        assert not group.inputs.get("ingress"), f"{group.name} declares inline ingress"
        for rule in group.inputs.get("egress") or []:
            assert not PUBLIC_CIDRS & set(rule.get("cidrBlocks", []) + rule.get("ipv6CidrBlocks", []))
    for rule in stack.of_type(INGRESS):
        assert rule.inputs.get("cidrIpv4") is None and rule.inputs.get("cidrIpv6") is None, f"{rule.name} admits a CIDR"
        assert rule.inputs.get("referencedSecurityGroupId"), f"{rule.name} must name its source group"
    for rule in stack.of_type(EGRESS):
        assert rule.inputs.get("cidrIpv4") not in PUBLIC_CIDRS and rule.inputs.get("cidrIpv6") not in PUBLIC_CIDRS
    for rule in stack.of_type(LEGACY_RULE):
        assert rule.inputs["type"] != "ingress" or not PUBLIC_CIDRS & set(rule.inputs.get("cidrBlocks", []) + rule.inputs.get("ipv6CidrBlocks", []))


def test_endpoints_accept_only_https_from_studio(stack):
    endpoints, studio = sg_id(stack, "endpoints-sg"), sg_id(stack, "studio-sg")
    rules = [r for r in stack.of_type(INGRESS) if r.inputs["securityGroupId"] == endpoints]
    assert [(r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"], r.inputs["referencedSecurityGroupId"]) for r in rules] == [
        ("tcp", 443, 443, studio)
    ]
    assert not [r for r in stack.of_type(EGRESS) if r.inputs["securityGroupId"] == endpoints], "endpoints need no egress"


def rules_of(stack, typ, group):
    return {
        (r.inputs["ipProtocol"], r.inputs.get("fromPort"), r.inputs.get("toPort"), r.inputs.get("referencedSecurityGroupId") or r.inputs.get("prefixListId"))
        for r in stack.of_type(typ)
        if r.inputs["securityGroupId"] == group
    }


def test_studio_rules_are_the_ports_aws_documents_for_studio(stack):
    """NFS 2049 to EFS and TCP 8192-65535 between apps, among members only; out, HTTPS to the
    endpoints and S3 only. No all-traffic rule."""
    studio, endpoints = sg_id(stack, "studio-sg"), sg_id(stack, "endpoints-sg")
    members = {("tcp", NFS, NFS, studio), ("tcp", 8192, 65535, studio)}
    assert rules_of(stack, INGRESS, studio) == members
    assert rules_of(stack, EGRESS, studio) == members | {("tcp", 443, 443, endpoints), ("tcp", 443, 443, "pl-63a5400a")}
    for typ in (INGRESS, EGRESS):
        assert all(r.inputs["ipProtocol"] != "-1" for r in stack.of_type(typ)), "no all-traffic rule"


def test_the_default_security_group_has_no_rules(stack):
    default = stack.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup").inputs
    assert default["vpcId"] == stack.named("vpc").outputs["id"]
    assert default.get("ingress") == [] and default.get("egress") == []


def test_the_vpc_has_flow_logs_of_all_traffic(stack):
    flow = stack.one("aws:ec2/flowLog:FlowLog").inputs
    assert flow["vpcId"] == stack.named("vpc").outputs["id"]
    assert flow["trafficType"] == "ALL"
    group = stack.named("vpc-flow-logs")
    assert flow["logDestination"] == group.outputs["arn"]
    assert group.inputs["retentionInDays"] > 0
    role = stack.named("vpc-flow-logs-role")
    assert flow["iamRoleArn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    doc = stack.role_policy("vpc-flow-logs-role")
    assert {r for s in doc["Statement"] for r in s["Resource"]} == {group.outputs["arn"], group.outputs["arn"] + ":*"}


def test_the_s3_endpoint_reaches_only_the_accounts_or_organisations_buckets(stack, synth):
    from support import allowed

    def policy(s):
        (gw,) = [e for e in s.of_type(ENDPOINT) if e.inputs.get("vpcEndpointType") == "Gateway"]
        doc = json.loads(gw.inputs["policy"])
        for st in doc["Statement"]:
            st.pop("Principal")
        return doc

    doc = policy(stack)
    assert allowed(doc, "s3:GetObject", "arn:aws:s3:::ours/key", {"aws:ResourceAccount": "111122223333"})
    assert not allowed(doc, "s3:GetObject", "arn:aws:s3:::theirs/key", {"aws:ResourceAccount": "444455556666"})
    assert not allowed(doc, "s3:PutObject", "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/x", {"aws:ResourceAccount": "444455556666"})
    assert allowed(doc, "s3:GetObject", "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/x", {"aws:ResourceAccount": "444455556666"})
    org = policy(synth(s3EndpointOrganizationId="o-a1b2c3d4e5"))
    assert allowed(org, "s3:GetObject", "arn:aws:s3:::sibling/key", {"aws:ResourceOrgID": "o-a1b2c3d4e5", "aws:ResourceAccount": "444455556666"})
    assert not allowed(org, "s3:GetObject", "arn:aws:s3:::other/key", {"aws:ResourceOrgID": "o-zzzzzzzzzz", "aws:ResourceAccount": "444455556666"})


def test_interface_endpoints_serve_this_accounts_principals_only(stack):
    from support import allowed

    interface = [e for e in stack.of_type(ENDPOINT) if e.inputs.get("vpcEndpointType") == "Interface"]
    for endpoint in interface:
        doc = json.loads(endpoint.inputs["policy"])
        for st in doc["Statement"]:
            st.pop("Principal")
        assert allowed(doc, "sagemaker:CreateApp", "*", {"aws:PrincipalAccount": "111122223333"}), endpoint.name
        assert not allowed(doc, "sagemaker:CreateApp", "*", {"aws:PrincipalAccount": "444455556666"}), endpoint.name


def test_ecr_endpoints_are_there_by_default_for_custom_images(stack):
    services = {e.inputs["serviceName"].removeprefix("com.amazonaws.us-east-1.") for e in stack.of_type(ENDPOINT)}
    assert {"ecr.api", "ecr.dkr", "s3"} <= services


def test_adopted_network_is_used_as_given_and_nothing_is_created(synth):
    adopted = synth(vpcId="vpc-0abc1234def567890", subnetIds=["subnet-0aaa", "subnet-0bbb"], securityGroupIds=["sg-0ccc1111dddd2222e"])
    for typ in ("aws:ec2/vpc:Vpc", SUBNET, SG, ENDPOINT, INGRESS, EGRESS):
        assert not adopted.of_type(typ), f"adopt mode created {typ}"
    domain = adopted.one("aws:sagemaker/domain:Domain").inputs
    assert domain["vpcId"] == "vpc-0abc1234def567890"
    assert domain["subnetIds"] == ["subnet-0aaa", "subnet-0bbb"]
    assert domain["defaultUserSettings"]["securityGroups"] == ["sg-0ccc1111dddd2222e"]
