//! The emulator behaviours the drift checks rely on: the profile-status switch the emulator
//! adds, and what moto's EC2 answers for the shapes the EC2 adapter reads.

use aws_sdk_ec2::types::Filter;
use warden_tests::fixture::*;

#[tokio::test]
async fn profile_status_switch_sets_failed_statuses_and_back() {
    let world = World::new().await.expect("world");
    world
        .hand_made_profile("made-by-hand")
        .await
        .expect("profile");
    for status in ["Failed", "Update_Failed", "Delete_Failed", "InService"] {
        world
            .emulator
            .set_profile_status(world.domain.as_str(), "made-by-hand", status)
            .await
            .expect(status);
        let described = world.describe("made-by-hand").await.expect("describe");
        assert_eq!(described.status().map(|s| s.as_str()), Some(status));
    }
    // Failed statuses are terminal: they do not advance with the clock.
    world
        .emulator
        .set_profile_status(world.domain.as_str(), "made-by-hand", "Failed")
        .await
        .expect("failed");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let described = world.describe("made-by-hand").await.expect("describe");
    assert_eq!(described.status().map(|s| s.as_str()), Some("Failed"));
    assert!(
        world
            .emulator
            .set_profile_status(world.domain.as_str(), "nobody", "Failed")
            .await
            .is_err(),
        "unknown profile"
    );
    assert!(
        world
            .emulator
            .set_profile_status(world.domain.as_str(), "made-by-hand", "Pending")
            .await
            .is_err(),
        "not a settable status"
    );
}

#[tokio::test]
async fn moto_ec2_answers_the_shapes_the_adapter_reads() {
    let world = World::new().await.expect("world");
    // Interface endpoints: full service name, type, state and PrivateDnsEnabled.
    let out = world
        .ec2
        .describe_vpc_endpoints()
        .filters(Filter::builder().name("vpc-id").values(&world.vpc).build())
        .send()
        .await
        .expect("DescribeVpcEndpoints");
    let sts = out
        .vpc_endpoints()
        .iter()
        .find(|e| e.service_name() == Some("com.amazonaws.us-east-1.sts"))
        .expect("the sts endpoint");
    assert_eq!(
        sts.vpc_endpoint_type().map(|t| t.as_str()),
        Some("Interface")
    );
    assert_eq!(sts.private_dns_enabled(), Some(true));
    assert_eq!(
        sts.state()
            .map(|s| s.as_str().to_ascii_lowercase())
            .as_deref(),
        Some("available")
    );
    // Subnets without an explicit association use the VPC's main route table (local only).
    let main = world
        .ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(&world.vpc).build())
        .filters(
            Filter::builder()
                .name("association.main")
                .values("true")
                .build(),
        )
        .send()
        .await
        .expect("DescribeRouteTables");
    assert_eq!(main.route_tables().len(), 1);
    assert!(
        main.route_tables()[0]
            .routes()
            .iter()
            .all(|r| r.gateway_id() == Some("local"))
    );
    // An unknown group id in a group-id filter is left out instead of failing the call.
    let groups = world
        .ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-id")
                .values(&world.research_sg)
                .values("sg-0123456789abcdef0")
                .build(),
        )
        .send()
        .await
        .expect("DescribeSecurityGroups");
    assert_eq!(groups.security_groups().len(), 1);
    let egress = groups.security_groups()[0].ip_permissions_egress();
    assert_eq!(
        egress.len(),
        1,
        "the fixture replaced the default egress: {egress:?}"
    );
}
