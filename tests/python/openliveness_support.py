"""Helpers shared by conftest.py and the tests: the server process, the AWS CLI runner, constants.

Server contract: `openliveness serve --listen 127.0.0.1:0 --data-dir DIR --config FILE` prints
`openliveness listening on http://127.0.0.1:PORT` on stdout once it is ready.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import pytest

REGION = "us-east-1"
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
AWS_CLI_TIMEOUT_SECONDS = 120.0
READY_LINE = re.compile(r"openliveness listening on (http://\S+)")
_TIMED_OUT = object()

# A lower-case UUID version 4, as CreateFaceLivenessSession returns.
SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    tenant: str
    session_token: Optional[str] = None


TENANT_A = Credential("AKIDTESTTENANTA", "secret-a", "111111111111")
TENANT_B = Credential("AKIDTESTTENANTB", "secret-b", "222222222222")
# Temporary credentials of tenant A: their requests must carry the session token.
TENANT_A_TEMPORARY = Credential("AKIDTESTTEMPORARYA", "secret-temp-a", "111111111111", "token-temp-a")
CREDENTIALS = (TENANT_A, TENANT_B, TENANT_A_TEMPORARY)


def unique_token(prefix: str) -> str:
    """A ClientRequestToken that no other test uses (a server lives for the whole run)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def every_setting(kms_key_id: str, bucket: str, key_prefix: str) -> dict[str, Any]:
    """The members of a CreateFaceLivenessSession request with every setting given, but the token."""
    return {
        "KmsKeyId": kms_key_id,
        "Settings": {
            "OutputConfig": {"S3Bucket": bucket, "S3KeyPrefix": key_prefix},
            "AuditImagesLimit": 2,
            "ChallengePreferences": [
                {"Type": "FaceMovementChallenge", "Versions": {"Minimum": "1.0.0", "Maximum": "1.0.0"}}
            ],
        },
    }


def assert_session_id(value: Any) -> str:
    assert isinstance(value, str) and SESSION_ID.fullmatch(value), (
        f"not a lower-case UUID v4 session id: {value!r}"
    )
    return value


def _toml_string(value: str) -> str:
    # A JSON string literal is a valid TOML basic string for the ASCII values used here.
    return json.dumps(value)


def render_config(credentials: tuple[Credential, ...], anonymous_tenant: Optional[str]) -> str:
    lines: list[str] = []
    for credential in credentials:
        lines += [
            "[[credentials]]",
            f"access_key_id = {_toml_string(credential.access_key_id)}",
            f"secret_access_key = {_toml_string(credential.secret_access_key)}",
            f"tenant = {_toml_string(credential.tenant)}",
        ]
        if credential.session_token is not None:
            lines.append(f"session_token = {_toml_string(credential.session_token)}")
        lines.append("")
    if anonymous_tenant is not None:
        lines += ["[anonymous]", f"tenant = {_toml_string(anonymous_tenant)}", ""]
    # The KMS key the tests name in KmsKeyId ("k", or its ARN): an unknown key is refused.
    lines += ["[[kms.keys]]", 'id = "k"', 'account = "111111111111"', ""]
    return "\n".join(lines)


class ServerProcess:
    """One running `openliveness serve`; stop() ends it."""

    def __init__(self, binary: Path, workdir: Path, config_text: str) -> None:
        self.workdir = workdir
        self.config_path = workdir / "config.toml"
        self.config_path.write_text(config_text)
        self.data_dir = workdir / "data"
        self.data_dir.mkdir()
        self.stderr_path = workdir / "stderr.log"
        self.stdout_lines: list[str] = []
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._stderr = open(self.stderr_path, "wb")
        # The server reads OPENLIVENESS_* variables too: keep the caller's out of it.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLIVENESS_")}
        env.setdefault("RUST_BACKTRACE", "1")
        self.command = [
            str(binary),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(self.data_dir),
            "--config",
            str(self.config_path),
        ]
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=workdir,
            env=env,
        )
        # The reader drains stdout for the server's whole life, so that the server never blocks
        # on a full pipe; lines reach _wait_ready through the queue.
        self._reader = threading.Thread(target=self._read_stdout, name="openliveness-stdout", daemon=True)
        self._reader.start()
        try:
            self.url = self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for raw in self.proc.stdout:
                self._lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        self._lines.put(None)  # end of file: the server closed stdout or exited

    def _wait_ready(self) -> str:
        """Reads stdout lines (blocking on the pipe, through the queue) until the ready line."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                line: Union[str, None, object] = self._lines.get(timeout=remaining)
            except queue.Empty:
                line = _TIMED_OUT
            if line is _TIMED_OUT:
                pytest.fail(
                    "openliveness did not print 'openliveness listening on URL' within "
                    f"{READY_TIMEOUT_SECONDS:.0f}s\n{self.describe()}",
                    pytrace=False,
                )
            if line is None:
                try:
                    code: Optional[int] = self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    code = None
                pytest.fail(
                    f"openliveness closed stdout before it was ready (exit code {code})\n{self.describe()}",
                    pytrace=False,
                )
            assert isinstance(line, str)
            self.stdout_lines.append(line)
            match = READY_LINE.fullmatch(line.strip())
            if match:
                return match.group(1)

    def stderr_text(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        try:
            return self.stderr_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def describe(self, stderr_tail: int = 6000) -> str:
        stderr = self.stderr_text()
        if len(stderr) > stderr_tail:
            stderr = "...\n" + stderr[-stderr_tail:]
        stdout = "\n".join(self.stdout_lines)
        return (
            f"command: {' '.join(self.command)}\n"
            f"config ({self.config_path}):\n{self.config_path.read_text()}\n"
            f"stdout so far:\n{stdout}\n"
            f"stderr:\n{stderr}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=STOP_TIMEOUT_SECONDS)
        self._stderr.close()


def isolated_aws_environment(base: dict[str, str], aws_home: Path) -> dict[str, str]:
    """`base` without AWS_* variables, cut off from the user's AWS configuration files."""
    env = {k: v for k, v in base.items() if not k.upper().startswith("AWS_")}
    env.update(
        {
            "AWS_CONFIG_FILE": str(aws_home / "does-not-exist" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws_home / "does-not-exist" / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_DEFAULT_REGION": REGION,
            # One attempt: error tests stay fast and the server sees each request once.
            "AWS_RETRY_MODE": "standard",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        }
    )
    # The servers listen on the loopback interface: never reach them through a proxy.
    existing = env.get("NO_PROXY") or env.get("no_proxy")
    env["NO_PROXY"] = env["no_proxy"] = ",".join(filter(None, [existing, "127.0.0.1", "localhost"]))
    return env


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, f"aws failed:\n{self}"
        return json.loads(self.stdout)

    def assert_service_error(self, code: str, operation: str) -> None:
        """The CLI failed because the server answered with error `code` (not a local error)."""
        assert self.returncode != 0, f"expected {code}, but aws succeeded:\n{self}"
        expected = f"An error occurred ({code}) when calling the {operation} operation"
        assert expected in self.stderr, f"expected {expected!r} in stderr:\n{self}"

    def __str__(self) -> str:
        return (
            f"$ {' '.join(self.args)}\nexit code {self.returncode}\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )


class AwsCli:
    """Runs `aws rekognition ...` (the AWS CLI v1 of the virtualenv) against a server."""

    def __init__(self, executable: Path, env: dict[str, str]) -> None:
        self.executable = executable
        self.env = env

    def rekognition(
        self,
        server: ServerProcess,
        *args: str,
        credential: Optional[Credential] = TENANT_A,
        no_sign_request: bool = False,
    ) -> CliResult:
        command = [str(self.executable), "rekognition", *args, "--endpoint-url", server.url]
        command += ["--cli-connect-timeout", "10", "--cli-read-timeout", "30"]
        env = dict(self.env)
        if no_sign_request:
            # No credentials at all in the environment: the CLI must not need any.
            command.append("--no-sign-request")
        elif credential is not None:
            env["AWS_ACCESS_KEY_ID"] = credential.access_key_id
            env["AWS_SECRET_ACCESS_KEY"] = credential.secret_access_key
            if credential.session_token is not None:
                env["AWS_SESSION_TOKEN"] = credential.session_token
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=AWS_CLI_TIMEOUT_SECONDS,
        )
        return CliResult(command, completed.returncode, completed.stdout, completed.stderr)
