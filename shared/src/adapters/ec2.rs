//! [`Network`] over EC2: security groups and their rules, subnets and their routes, VPC
//! endpoints. Read-only (the Describe* actions, which IAM grants only on `*`).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, IpPermission, RouteTable};

use super::aws_error;
use super::places::{At, PerDomain};
use crate::drift::model::{EndpointInfo, SecurityGroupInfo, SgRule, SubnetInfo};
use crate::drift::ports::Network;
use crate::error::Result;
use crate::ids::DomainId;

const SERVICE: &str = "ec2";
/// EC2's read calls, per account and region. EC2 meters non-mutating actions with a token
/// bucket of 100 and a refill of 20 a second per account and region ("Request throttling for
/// the Amazon EC2 API"); the drift checks stay at the refill rate.
pub const EC2_TPS: u32 = 20;
/// EC2 filters take at most 200 values; the groups and subnets of a domain are far fewer.
const FILTER_VALUES: usize = 200;

/// [`Network`] over `aws_sdk_ec2::Client`s: one per domain's account and region, each with
/// the limiter of its account and region (EC2 throttles per account and region too).
#[derive(Debug)]
pub struct Ec2Network {
    clients: PerDomain<Client>,
}

impl Ec2Network {
    /// Every domain in the function's own account and region, through `client`.
    pub fn new(client: Client) -> Self {
        Self::with_clients(PerDomain::home_only(client))
    }

    /// Domains anywhere (see [`PerDomain`]).
    pub fn with_clients(clients: PerDomain<Client>) -> Self {
        Self { clients }
    }
}

fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

/// One [`SgRule`] per peer of a permission.
fn rules(perms: &[IpPermission]) -> Vec<SgRule> {
    let mut out = Vec::new();
    for p in perms {
        let rule = |peer: &str| SgRule {
            protocol: p.ip_protocol().unwrap_or("-1").to_owned(),
            from_port: p.from_port(),
            to_port: p.to_port(),
            peer: peer.to_owned(),
        };
        out.extend(p.ip_ranges().iter().filter_map(|r| r.cidr_ip()).map(rule));
        out.extend(
            p.ipv6_ranges()
                .iter()
                .filter_map(|r| r.cidr_ipv6())
                .map(rule),
        );
        out.extend(
            p.prefix_list_ids()
                .iter()
                .filter_map(|r| r.prefix_list_id())
                .map(rule),
        );
        out.extend(
            p.user_id_group_pairs()
                .iter()
                .filter_map(|r| r.group_id())
                .map(rule),
        );
    }
    out
}

/// Routes of a table that lead to an internet gateway, as `destination -> igw-...`.
fn internet_routes(table: &RouteTable) -> Vec<String> {
    table
        .routes()
        .iter()
        .filter(|r| r.gateway_id().is_some_and(|g| g.starts_with("igw-")))
        .filter(|r| r.state().is_none_or(|s| s.as_str() != "blackhole"))
        .map(|r| {
            let dest = r
                .destination_cidr_block()
                .or(r.destination_ipv6_cidr_block())
                .or(r.destination_prefix_list_id())
                .unwrap_or("?");
            format!("{dest} -> {}", r.gateway_id().unwrap_or_default())
        })
        .collect()
}

async fn route_tables(at: &At<Client>, filters: Vec<Filter>) -> Result<Vec<RouteTable>> {
    let mut pages = at
        .client
        .describe_route_tables()
        .set_filters(Some(filters))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error(SERVICE, "DescribeRouteTables", e))?;
        out.extend(page.route_tables().iter().cloned());
    }
    Ok(out)
}

impl Network for Ec2Network {
    async fn security_groups(
        &self,
        domain: &DomainId,
        ids: &[String],
    ) -> Result<Vec<SecurityGroupInfo>> {
        let at = self.clients.at(domain).await?;
        let mut out = Vec::new();
        // A filter, not GroupIds: an unknown id is left out instead of failing the call.
        for chunk in ids.chunks(FILTER_VALUES) {
            let mut pages = at
                .client
                .describe_security_groups()
                .filters(filter("group-id", chunk))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| aws_error(SERVICE, "DescribeSecurityGroups", e))?;
                for g in page.security_groups() {
                    let Some(id) = g.group_id() else { continue };
                    out.push(SecurityGroupInfo {
                        id: id.to_owned(),
                        vpc_id: g.vpc_id().map(str::to_owned),
                        ingress: rules(g.ip_permissions()),
                        egress: rules(g.ip_permissions_egress()),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn subnets(&self, domain: &DomainId, ids: &[String]) -> Result<Vec<SubnetInfo>> {
        let at = self.clients.at(domain).await?;
        let mut out = Vec::new();
        for chunk in ids.chunks(FILTER_VALUES) {
            let found = at
                .client
                .describe_subnets()
                .filters(filter("subnet-id", chunk))
                .send()
                .await
                .map_err(|e| aws_error(SERVICE, "DescribeSubnets", e))?;
            let explicit = route_tables(&at, vec![filter("association.subnet-id", chunk)]).await?;
            for s in found.subnets() {
                let Some(id) = s.subnet_id() else { continue };
                let vpc = s.vpc_id().map(str::to_owned);
                let mut table = explicit
                    .iter()
                    .find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(id)))
                    .cloned();
                // No explicit association: the VPC's main route table applies.
                if table.is_none()
                    && let Some(vpc) = &vpc
                {
                    table = route_tables(
                        &at,
                        vec![
                            filter("vpc-id", std::slice::from_ref(vpc)),
                            filter("association.main", &["true".to_owned()]),
                        ],
                    )
                    .await?
                    .into_iter()
                    .next();
                }
                out.push(SubnetInfo {
                    id: id.to_owned(),
                    vpc_id: vpc,
                    route_table: table
                        .as_ref()
                        .and_then(|t| t.route_table_id())
                        .map(str::to_owned),
                    internet_routes: table.as_ref().map(internet_routes).unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }

    async fn vpc_endpoints(&self, domain: &DomainId, vpc: &str) -> Result<Vec<EndpointInfo>> {
        let at = self.clients.at(domain).await?;
        let mut pages = at
            .client
            .describe_vpc_endpoints()
            .filters(filter("vpc-id", &[vpc.to_owned()]))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error(SERVICE, "DescribeVpcEndpoints", e))?;
            for e in page.vpc_endpoints() {
                out.push(EndpointInfo {
                    id: e.vpc_endpoint_id().unwrap_or_default().to_owned(),
                    vpc_id: e.vpc_id().unwrap_or_default().to_owned(),
                    service_name: e.service_name().unwrap_or_default().to_owned(),
                    endpoint_type: e
                        .vpc_endpoint_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                    state: e.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    private_dns_enabled: e.private_dns_enabled().unwrap_or(false),
                });
            }
        }
        Ok(out)
    }
}
