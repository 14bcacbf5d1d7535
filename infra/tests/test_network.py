"""The created network is VPC-only and closed to the internet; an adopted one is left alone."""

import ipaddress

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


def test_studio_members_reach_each_other_including_nfs(stack):
    studio = sg_id(stack, "studio-sg")

    def covers_nfs(rule):
        i = rule.inputs
        same_group = i["securityGroupId"] == studio and i.get("referencedSecurityGroupId") == studio
        all_traffic = i["ipProtocol"] == "-1"
        return same_group and (all_traffic or (i["ipProtocol"] == "tcp" and i["fromPort"] <= NFS <= i["toPort"]))

    assert any(covers_nfs(r) for r in stack.of_type(INGRESS)), "Studio members must accept each other (NFS 2049)"
    assert any(covers_nfs(r) for r in stack.of_type(EGRESS)), "Studio members must reach each other (NFS 2049)"


def test_adopted_network_is_used_as_given_and_nothing_is_created(synth):
    adopted = synth(vpcId="vpc-0abc1234def567890", subnetIds=["subnet-0aaa", "subnet-0bbb"], securityGroupIds=["sg-0ccc1111dddd2222e"])
    for typ in ("aws:ec2/vpc:Vpc", SUBNET, SG, ENDPOINT, INGRESS, EGRESS):
        assert not adopted.of_type(typ), f"adopt mode created {typ}"
    domain = adopted.one("aws:sagemaker/domain:Domain").inputs
    assert domain["vpcId"] == "vpc-0abc1234def567890"
    assert domain["subnetIds"] == ["subnet-0aaa", "subnet-0bbb"]
    assert domain["defaultUserSettings"]["securityGroups"] == ["sg-0ccc1111dddd2222e"]
