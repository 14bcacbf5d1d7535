"""The DynamoDB ledger: current state per user and domain plus an append-only history.

On-demand capacity, point-in-time recovery, encryption with the stack's CMK, TTL on `expires_at`
(history rows age out), and deletion protection unless tableDeletionProtection is false (dev).
"""

from __future__ import annotations

import pulumi_aws as aws

from .config import StackConfig

TTL_ATTRIBUTE = "expires_at"


def create_ledger(config: StackConfig, data_key: aws.kms.Key) -> aws.dynamodb.Table:
    return aws.dynamodb.Table(
        "ledger",
        name=f"{config.name_prefix}-ledger",
        billing_mode="PAY_PER_REQUEST",
        hash_key="pk",
        range_key="sk",
        attributes=[
            aws.dynamodb.TableAttributeArgs(name="pk", type="S"),
            aws.dynamodb.TableAttributeArgs(name="sk", type="S"),
        ],
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True, kms_key_arn=data_key.arn),
        ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
        deletion_protection_enabled=config.table_deletion_protection,
        tags=config.tags(),
    )
