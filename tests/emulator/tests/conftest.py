"""pytest fixtures: one emulator process per test session (on a free port, stopped at the
end; nothing is left behind), its state reset before every test, and boto3 clients
pointed at it.

    WARDEN_PYTHON -m pytest -q tests/emulator/tests
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from typing import Any, Iterator

import boto3
import botocore.config
import pytest

EMULATOR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emulator.py")
REGION = "us-east-1"
STORE = "d-9067c0ffee"  # the emulator's Identity Center instance's identity store


class Emu:
    def __init__(self, url: str, proc: subprocess.Popen[str]) -> None:
        self.url = url
        self.proc = proc

    def control(self, path: str, payload: Any = None, method: str = "POST") -> tuple[int, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def ok(self, path: str, payload: Any = None) -> Any:
        status, body = self.control(path, payload)
        assert status == 200, (path, status, body)
        return body

    def client(
        self,
        service: str,
        retries: int = 0,
        account: str | None = None,
        region: str = REGION,
        credentials: dict[str, str] | None = None,
    ) -> Any:
        """A boto3 client. ``account``: act in that account (an access key id of 12 digits,
        README "Accounts and credentials"); ``credentials``: STS AssumeRole's Credentials;
        neither: the default account 123456789012."""
        if credentials is not None:
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
        else:
            keys = {"aws_access_key_id": account or "test", "aws_secret_access_key": "test"}
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            **keys,
            config=botocore.config.Config(
                retries={"total_max_attempts": retries + 1, "mode": "standard"},
                # Let the emulator, not the client, judge the requests.
                parameter_validation=False,
            ),
        )

    def ledger_table(self, account: str | None = None) -> Any:
        """A DynamoDB client of ``account`` after it created the ledger's table (``pk``/``sk``
        strings, on demand), as the product's stack makes it."""
        ddb = self.client("dynamodb", account=account)
        ddb.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return ddb


@pytest.fixture(scope="session")
def emu_process() -> Iterator[Emu]:
    proc = subprocess.Popen(
        [sys.executable, EMULATOR, "--port", "0", "--status-delay", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("EMULATOR READY "), line
        yield Emu(line.split()[-1], proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def emu(emu_process: Emu) -> Emu:
    emu_process.ok("/_emulator/reset")
    emu_process.ok("/_emulator/config", {"status_delay": 0.05})
    return emu_process
