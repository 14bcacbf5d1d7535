"""Dead-letter queues: what EventBridge, the Scheduler or a failed invocation could not deliver.

Per function, one queue for deliveries that never reached it (rule or schedule targets) and one
for invocations that failed after Lambda's retries (async on-failure destination). All are
encrypted at rest (SSE-SQS) and keep messages for the SQS maximum of 14 days; each has a depth
alarm (alarms.py).
"""

from __future__ import annotations

import pulumi_aws as aws

from .config import StackConfig

FOURTEEN_DAYS = 14 * 24 * 3600


def create_queue(name: str, config: StackConfig, region: str | None = None) -> aws.sqs.Queue:
    return aws.sqs.Queue(
        name,
        name=f"{config.name_prefix}-{name}",
        sqs_managed_sse_enabled=True,
        message_retention_seconds=FOURTEEN_DAYS,
        region=region,
        tags=config.tags(),
    )
