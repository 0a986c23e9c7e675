"""The real AWS CLI v1 (`aws rekognition ...`) against the real openliveness server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from openliveness_support import (
    TENANT_A,
    TENANT_B,
    AwsCli,
    ServerProcess,
    assert_session_id,
    every_setting,
    unique_token,
)

CREATE = "CreateFaceLivenessSession"
GET = "GetFaceLivenessSessionResults"

# The CLI checks minimum lengths before sending, so the bucket needs 3 characters or more.
SHORTHAND_SETTINGS = "OutputConfig={S3Bucket=bucket-b,S3KeyPrefix=p},AuditImagesLimit=2"


def create_args(token: str) -> list[str]:
    return [
        "create-face-liveness-session",
        "--settings",
        SHORTHAND_SETTINGS,
        "--client-request-token",
        token,
        "--kms-key-id",
        "k",
    ]


def create_session(aws: AwsCli, server: ServerProcess, token: str, *extra: str) -> str:
    result = aws.rekognition(server, *create_args(token), "--output", "json", *extra)
    body = result.json()
    assert set(body) == {"SessionId"}, f"unexpected members in {body}\n{result}"
    return assert_session_id(body["SessionId"])


def test_create_with_shorthand_settings_is_idempotent_per_token(aws: AwsCli, server: ServerProcess) -> None:
    token = unique_token("t1")
    first = create_session(aws, server, token)
    again = create_session(aws, server, token)
    assert again == first, "the same ClientRequestToken must return the same SessionId"
    other = create_session(aws, server, unique_token("t2"))
    assert other != first, "a different ClientRequestToken must create a new session"


def test_create_from_cli_input_json_file_and_string(aws: AwsCli, server: ServerProcess, tmp_path: Path) -> None:
    token = unique_token("input-json")
    request = {**every_setting("k", "bucket-b", "p"), "ClientRequestToken": token}
    path = tmp_path / "create.json"
    path.write_text(json.dumps(request))

    from_file = aws.rekognition(server, "create-face-liveness-session", "--cli-input-json", f"file://{path}")
    session_id = assert_session_id(from_file.json()["SessionId"])

    from_string = aws.rekognition(server, "create-face-liveness-session", "--cli-input-json", json.dumps(request))
    assert from_string.json()["SessionId"] == session_id, "same token, same tenant: same SessionId"

    results = aws.rekognition(server, "get-face-liveness-session-results", "--session-id", session_id)
    assert results.json()["Status"] == "CREATED"


def test_output_json(aws: AwsCli, server: ServerProcess) -> None:
    token = unique_token("out-json")
    result = aws.rekognition(server, *create_args(token), "--output", "json")
    assert result.returncode == 0, str(result)
    assert_session_id(json.loads(result.stdout)["SessionId"])


def test_output_text(aws: AwsCli, server: ServerProcess) -> None:
    token = unique_token("out-text")
    session_id = create_session(aws, server, token)
    result = aws.rekognition(server, *create_args(token), "--output", "text")
    assert result.returncode == 0, str(result)
    assert result.stdout.strip() == session_id, str(result)


def test_output_table(aws: AwsCli, server: ServerProcess) -> None:
    token = unique_token("out-table")
    session_id = create_session(aws, server, token)
    result = aws.rekognition(server, *create_args(token), "--output", "table")
    assert result.returncode == 0, str(result)
    lines = [line.strip() for line in result.stdout.strip().splitlines()]
    assert any(CREATE in line for line in lines), f"no table title:\n{result}"
    row = next((line for line in lines if session_id in line), None)
    assert row is not None, f"no row with {session_id}:\n{result}"
    assert row.startswith("|") and row.endswith("|") and "SessionId" in row, f"not a table row: {row!r}"


def test_query_session_id_as_text_is_the_bare_id(aws: AwsCli, server: ServerProcess) -> None:
    token = unique_token("query")
    session_id = create_session(aws, server, token)
    result = aws.rekognition(server, *create_args(token), "--query", "SessionId", "--output", "text")
    assert result.returncode == 0, str(result)
    assert result.stdout == f"{session_id}\n", str(result)
    as_json = aws.rekognition(server, *create_args(token), "--query", "SessionId", "--output", "json")
    assert json.loads(as_json.stdout) == session_id, str(as_json)


def test_get_results_of_a_new_session_is_created(aws: AwsCli, server: ServerProcess) -> None:
    session_id = create_session(aws, server, unique_token("get"))
    result = aws.rekognition(server, "get-face-liveness-session-results", "--session-id", session_id)
    body = result.json()
    assert body["SessionId"] == session_id
    assert body["Status"] == "CREATED"
    status = aws.rekognition(
        server, "get-face-liveness-session-results", "--session-id", session_id, "--query", "Status", "--output", "text"
    )
    assert status.returncode == 0 and status.stdout == "CREATED\n", str(status)


def test_no_sign_request_with_anonymous_access(aws: AwsCli, anonymous_server: ServerProcess) -> None:
    created = aws.rekognition(
        anonymous_server,
        "create-face-liveness-session",
        "--client-request-token",
        unique_token("anon"),
        no_sign_request=True,
    )
    session_id = assert_session_id(created.json()["SessionId"])

    results = aws.rekognition(
        anonymous_server, "get-face-liveness-session-results", "--session-id", session_id, no_sign_request=True
    )
    body = results.json()
    assert body["SessionId"] == session_id
    assert body["Status"] == "CREATED"

    # Unsigned requests act as the configured anonymous tenant (A): A sees the session, B does not.
    as_a = aws.rekognition(
        anonymous_server, "get-face-liveness-session-results", "--session-id", session_id, credential=TENANT_A
    )
    assert as_a.json()["Status"] == "CREATED"
    as_b = aws.rekognition(
        anonymous_server, "get-face-liveness-session-results", "--session-id", session_id, credential=TENANT_B
    )
    as_b.assert_service_error("SessionNotFoundException", GET)


def test_no_sign_request_without_anonymous_access_is_refused(aws: AwsCli, server: ServerProcess) -> None:
    created = aws.rekognition(
        server, "create-face-liveness-session", "--client-request-token", unique_token("anon"), no_sign_request=True
    )
    created.assert_service_error("MissingAuthenticationTokenException", CREATE)

    results = aws.rekognition(
        server, "get-face-liveness-session-results", "--session-id", str(uuid.uuid4()), no_sign_request=True
    )
    results.assert_service_error("MissingAuthenticationTokenException", GET)


def test_invalid_client_request_token_is_invalid_parameter(aws: AwsCli, server: ServerProcess) -> None:
    # The CLI only checks lengths; the pattern ^[a-zA-Z0-9-_]+$ is the server's to enforce.
    result = aws.rekognition(server, "create-face-liveness-session", "--client-request-token", "bad token!")
    result.assert_service_error("InvalidParameterException", CREATE)


def test_get_unknown_session_is_session_not_found(aws: AwsCli, server: ServerProcess) -> None:
    result = aws.rekognition(server, "get-face-liveness-session-results", "--session-id", str(uuid.uuid4()))
    result.assert_service_error("SessionNotFoundException", GET)


def test_audit_images_limit_above_four_is_clamped_not_refused(aws: AwsCli, server: ServerProcess) -> None:
    # The model's maximum (4) is not checked by the CLI, so 10 reaches the server.
    created = aws.rekognition(
        server, "create-face-liveness-session", "--settings", "AuditImagesLimit=10", "--output", "json"
    )
    session_id = assert_session_id(created.json()["SessionId"])
    results = aws.rekognition(server, "get-face-liveness-session-results", "--session-id", session_id)
    assert results.json()["Status"] == "CREATED"
