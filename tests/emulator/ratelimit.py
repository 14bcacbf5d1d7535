"""Request-rate model: token buckets per (service, account, region), off by default
(README: "Request rates").

AWS throttles API calls per account and per Region (SageMaker: AWS re:Post knowledge
center "sagemaker-python-throttlingexception"; EC2: "Request throttling for the Amazon
EC2 API", which also says EC2 uses a token bucket whose size is the burst and which is
refilled at a fixed rate, one bucket per API action). SageMaker's rates and the shape of
its limiter are unknown in AWS: the emulator's token bucket is a choice.

A request beyond its bucket is answered as the service answers a throttled call
(faults.error_response(service, "throttle"): SageMaker ``ThrottlingException``, HTTP 400,
awsJson1_1 body; EC2 ``RequestLimitExceeded``, HTTP 503).

Configured through ``POST /_emulator/config {"rate_limits": {SERVICE: {"per_second": R,
"burst": B, "per_operation": bool}}}`` (replaces every limit; ``{}`` switches them off) or
``--rate-limit SERVICE:R[:B]``; cleared by ``POST /_emulator/reset``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

# Services whose AWS documentation gives one bucket per API action (EC2: "each API is
# evaluated individually"); elsewhere the bucket is per (service, account, region) unless
# "per_operation" says otherwise.
PER_OPERATION_BY_DEFAULT = {"ec2"}


@dataclass(frozen=True)
class Limit:
    per_second: float
    burst: float
    per_operation: bool

    @staticmethod
    def from_json(service: str, obj: Any) -> "Limit":
        if not isinstance(obj, dict):
            raise ValueError(f"rate_limits.{service} must be an object {{per_second, burst?, per_operation?}}")
        unknown = set(obj) - {"per_second", "burst", "per_operation"}
        if unknown:
            raise ValueError(f"rate_limits.{service}: unknown settings {sorted(unknown)}")
        if "per_second" not in obj:
            raise ValueError(f"rate_limits.{service}.per_second is required")
        per_second = _number(obj["per_second"], f"rate_limits.{service}.per_second")
        if not (per_second > 0 and math.isfinite(per_second)):
            raise ValueError(f"rate_limits.{service}.per_second must be > 0")
        burst = _number(obj.get("burst", max(1.0, per_second)), f"rate_limits.{service}.burst")
        if not (burst >= 1 and math.isfinite(burst)):
            raise ValueError(f"rate_limits.{service}.burst must be >= 1")
        per_operation = obj.get("per_operation", service in PER_OPERATION_BY_DEFAULT)
        if not isinstance(per_operation, bool):
            raise ValueError(f"rate_limits.{service}.per_operation must be true or false")
        return Limit(per_second, burst, per_operation)

    @staticmethod
    def parse(spec: str) -> tuple[str, "Limit"]:
        """``SERVICE:PER_SECOND[:BURST]`` (the command line's form)."""
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[0]:
            raise ValueError(f"rate limit {spec!r} must look like sagemaker:8 or sagemaker:8:16")
        service = _canonical(parts[0])
        obj: dict[str, Any] = {"per_second": _float(parts[1], spec)}
        if len(parts) == 3:
            obj["burst"] = _float(parts[2], spec)
        return service, Limit.from_json(service, obj)

    def to_json(self) -> dict[str, Any]:
        return {"per_second": self.per_second, "burst": self.burst, "per_operation": self.per_operation}


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number")
    return float(value)


def _float(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"rate limit {spec!r}: {text!r} is not a number") from None


def _canonical(service: str) -> str:
    import faults

    return faults.canonical_service(service)


class Bucket:
    """A token bucket: holds at most ``burst`` tokens, starts full, gains ``per_second``
    tokens a second (continuously); a request takes one token or is refused."""

    __slots__ = ("tokens", "stamp", "admitted", "refused")

    def __init__(self, limit: Limit, now: float) -> None:
        self.tokens = limit.burst
        self.stamp = now
        self.admitted = 0
        self.refused = 0

    def take(self, limit: Limit, now: float) -> bool:
        if now > self.stamp:
            self.tokens = min(limit.burst, self.tokens + (now - self.stamp) * limit.per_second)
            self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.admitted += 1
            return True
        self.refused += 1
        return False


class RateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.limits: dict[str, Limit] = {}
        # (service, account, region, operation or "*") -> bucket
        self._buckets: dict[tuple[str, str, str, str], Bucket] = {}

    def configure(self, payload: Any) -> None:
        """Replace every limit (and start every bucket full)."""
        if not isinstance(payload, dict):
            raise ValueError("rate_limits must be an object {service: {per_second, burst?, per_operation?}}")
        limits = {}
        for service, obj in payload.items():
            if not isinstance(service, str) or not service:
                raise ValueError("rate_limits keys must be service names")
            name = _canonical(service)
            limits[name] = Limit.from_json(name, obj)
        self.set_limits(limits)

    def set_limits(self, limits: dict[str, Limit]) -> None:
        with self._lock:
            self.limits = dict(limits)
            self._buckets.clear()

    def reset(self) -> None:
        self.set_limits({})

    def admit(self, service: str, operation: str, account: str, region: str, now: float) -> bool:
        """True if the request may proceed; False if it is throttled (no token left)."""
        limit = self.limits.get(service)
        if limit is None:
            return True
        key = (service, account, region, operation if limit.per_operation else "*")
        with self._lock:
            # The limits may have changed since the read above: use the current one.
            limit = self.limits.get(service)
            if limit is None:
                return True
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = Bucket(limit, now)
                self._buckets[key] = bucket
            return bucket.take(limit, now)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {service: limit.to_json() for service, limit in sorted(self.limits.items())}

    def stats(self) -> list[dict[str, Any]]:
        """One entry per bucket used since the limits were last set: its requests admitted
        and refused, and ``min_seconds``, the least time a token bucket that started full
        needs to admit that many (``max(0, admitted - burst) / per_second``)."""
        with self._lock:
            out = []
            for (service, account, region, operation), bucket in sorted(self._buckets.items()):
                limit = self.limits[service]
                entry: dict[str, Any] = {
                    "service": service,
                    "account": account,
                    "region": region,
                    "admitted": bucket.admitted,
                    "throttled": bucket.refused,
                    "min_seconds": max(0.0, bucket.admitted - limit.burst) / limit.per_second,
                }
                if limit.per_operation:
                    entry["operation"] = operation
                out.append(entry)
            return out
