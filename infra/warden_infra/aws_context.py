"""Where the stack runs (partition, account, region) and the ARNs built from it.

ARN formats are those of the Service Authorization Reference ("Resource types defined by ...")
for each service; each helper names the page it follows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsContext:
    partition: str
    account: str
    region: str
    dns_suffix: str = "amazonaws.com"

    @staticmethod
    def current() -> "AwsContext":
        """The deploying identity's partition and account, and the provider's region."""
        partition = aws.get_partition()
        return AwsContext(
            partition=partition.partition,
            account=aws.get_caller_identity().account_id,
            region=pulumi.Config("aws").require("region"),
            dns_suffix=partition.dns_suffix,
        )

    def at(self, account: str | None = None, region: str | None = None) -> "AwsContext":
        """The same partition in another account and/or region (None: this one's)."""
        return replace(self, account=account or self.account, region=region or self.region)

    # --- SageMaker (list_amazonsagemaker: domain, user-profile, app, space) -----------------
    def sagemaker_domain(self, domain_id: str) -> str:
        return f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:domain/{domain_id}"

    def sagemaker_in_domain(self, kind: str, domain_id: str) -> str:
        """Every `kind` (user-profile, app, space) of one domain: `<kind>/<domain-id>/*`.

        App ARNs are `app/<domain-id>/<profile-or-space>/<type>/<name>`, so `app/<domain-id>/*`
        covers the apps of the domain's profiles and of its spaces, and nothing outside it.
        """
        return f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:{kind}/{domain_id}/*"

    # --- Identity Store (list_awsidentitystore) ------------------------------------------------
    def identity_store(self, store_id: str) -> str:
        return f"arn:{self.partition}:identitystore::{self.account}:identitystore/{store_id}"

    def identity_store_entities(self) -> list[str]:
        """AllUsers, AllGroups, AllGroupMemberships: account-less ARNs by AWS's own definition.

        Every read action also requires the Identitystore resource, so pairing these with the one
        store ARN confines the grant to that store.
        """
        return [
            f"arn:{self.partition}:identitystore:::user/*",
            f"arn:{self.partition}:identitystore:::group/*",
            f"arn:{self.partition}:identitystore:::membership/*",
        ]

    # --- IAM Identity Center (list_awsiamidentitycenter: Application) -------------------------
    def sso_instance_applications(self, instance_id: str, owner_account: str) -> str:
        """Every application of an Identity Center instance. Application ARNs carry the account
        that owns the instance (for an organization instance, the management account), not the
        caller's: `arn:aws:sso::<owner>:application/<instance-id>/apl-...`."""
        return f"arn:{self.partition}:sso::{owner_account}:application/{instance_id}/*"

    # --- Others -------------------------------------------------------------------------------
    def iam_role(self, name: str, account: str | None = None) -> str:
        return f"arn:{self.partition}:iam::{account or self.account}:role/{name}"

    def iam_root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"

    def event_bus(self, region: str, name: str = "default") -> str:
        return f"arn:{self.partition}:events:{region}:{self.account}:event-bus/{name}"

    def log_group(self, name: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{name}"

    def alarm_arns(self, region: str) -> str:
        return f"arn:{self.partition}:cloudwatch:{region}:{self.account}:alarm:*"

    def service_host(self, service: str, region: str | None = None) -> str:
        """The `kms:ViaService` value of a regional service, e.g. `sns.us-east-1.amazonaws.com`."""
        return f"{service}.{region or self.region}.{self.dns_suffix}"
