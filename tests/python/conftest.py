"""Fixtures for the end-to-end suite: the real openliveness binary, the real AWS CLI v1 and boto3.

The server binary comes from the OPENLIVENESS_BIN environment variable (scripts/test-python.sh
sets it). The AWS CLI is the one of the virtualenv that runs pytest (scripts/setup-python.sh
makes it).

Every AWS client here is cut off from the user's AWS configuration: the environment's AWS_*
variables are dropped, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE name files that do not
exist, and the instance metadata service is disabled.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import boto3
import pytest
from botocore.config import Config

# Make the helpers importable whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from openliveness_support import (  # noqa: E402
    CREDENTIALS,
    REGION,
    TENANT_A,
    AwsCli,
    Credential,
    ServerProcess,
    isolated_aws_environment,
    render_config,
)


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Makes this process's environment (which boto3 reads) the isolated one, for the session."""
    saved = dict(os.environ)
    isolated = isolated_aws_environment(saved, tmp_path_factory.mktemp("aws-home"))
    os.environ.clear()
    os.environ.update(isolated)
    try:
        yield isolated
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --------------------------------------------------------------------------------------------
# Servers


@pytest.fixture(scope="session")
def openliveness_bin() -> Path:
    value = os.environ.get("OPENLIVENESS_BIN")
    if not value:
        pytest.fail(
            "OPENLIVENESS_BIN is not set: it must name the openliveness server binary, e.g.\n"
            "  cargo build -p openliveness-cli\n"
            "  OPENLIVENESS_BIN=target/debug/openliveness .venv/bin/python -m pytest tests/python\n"
            "or run scripts/test-python.sh, which sets it.",
            pytrace=False,
        )
    path = Path(value).resolve()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"OPENLIVENESS_BIN={value} is not an executable file "
            "(build it with `cargo build -p openliveness-cli`)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def start_server(
    openliveness_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ServerProcess]]:
    """Starts servers (each with its own data dir and config); all are stopped at the end."""
    started: list[ServerProcess] = []

    def start(
        credentials: tuple[Credential, ...] = CREDENTIALS, anonymous_tenant: Optional[str] = None
    ) -> ServerProcess:
        workdir = tmp_path_factory.mktemp("openliveness")
        server = ServerProcess(openliveness_bin, workdir, render_config(credentials, anonymous_tenant))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """Tenants A and B (and temporary credentials of A); unsigned requests refused."""
    return start_server()


@pytest.fixture(scope="session")
def anonymous_server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """Tenants A and B, and `[anonymous]`: unsigned requests are served as tenant A."""
    return start_server(anonymous_tenant=TENANT_A.tenant)


# --------------------------------------------------------------------------------------------
# Clients


@pytest.fixture(scope="session")
def aws(isolated_environment: dict[str, str]) -> AwsCli:
    """The AWS CLI v1 next to the Python that runs pytest (the project's .venv)."""
    candidates = [
        Path(sys.executable).parent / "aws",
        Path(__file__).resolve().parents[2] / ".venv" / "bin" / "aws",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return AwsCli(candidate, dict(isolated_environment))
    pytest.fail(
        "the AWS CLI is missing: run scripts/setup-python.sh "
        f"(looked for {', '.join(map(str, candidates))})",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def rekognition(isolated_environment: dict[str, str]) -> Callable[..., Any]:
    """Makes a boto3 Rekognition client for a server, signing with `credential`."""

    def make(
        server: ServerProcess,
        credential: Credential = TENANT_A,
        *,
        secret_access_key: Optional[str] = None,
        session_token: Optional[str] = None,
        parameter_validation: bool = True,
    ) -> Any:
        config = Config(
            # A single attempt, never a retry: error tests stay fast.
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=10,
            read_timeout=30,
            parameter_validation=parameter_validation,
        )
        return boto3.session.Session().client(
            "rekognition",
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id=credential.access_key_id,
            aws_secret_access_key=secret_access_key or credential.secret_access_key,
            aws_session_token=session_token or credential.session_token,
            config=config,
        )

    return make


# --------------------------------------------------------------------------------------------
# Reports: show a server's output next to a test that failed while using it.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, ServerProcess):
                report.sections.append((f"openliveness server `{name}`", value.describe()))
