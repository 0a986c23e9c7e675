"""boto3 (botocore's awsJson1_1 client and SigV4 signer) against the real openliveness server."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from openliveness_support import (
    REGION,
    TENANT_A,
    TENANT_A_TEMPORARY,
    TENANT_B,
    Credential,
    ServerProcess,
    assert_session_id,
    every_setting,
    unique_token,
)

MakeClient = Callable[..., Any]

EVERY_SETTING = every_setting("arn:aws:kms:us-east-1:111111111111:key/k", "bucket-a", "liveness/")


def assert_error(error: ClientError, code: str) -> None:
    response = error.response
    assert response["Error"]["Code"] == code, f"expected {code}, got {response}"
    assert response["Error"].get("Message"), f"no error message in {response}"
    metadata = response["ResponseMetadata"]
    assert 400 <= metadata["HTTPStatusCode"] < 500, f"not a client error status: {response}"
    assert metadata.get("RequestId"), f"no x-amzn-RequestId on the error response: {response}"


def test_create_with_every_setting_then_get(rekognition: MakeClient, server: ServerProcess) -> None:
    client = rekognition(server)
    token = unique_token("boto3-every")
    created = client.create_face_liveness_session(ClientRequestToken=token, **EVERY_SETTING)
    session_id = assert_session_id(created["SessionId"])
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert created["ResponseMetadata"].get("RequestId"), "no x-amzn-RequestId on the response"

    again = client.create_face_liveness_session(ClientRequestToken=token, **EVERY_SETTING)
    assert again["SessionId"] == session_id, "the same ClientRequestToken must return the same SessionId"

    results = client.get_face_liveness_session_results(SessionId=session_id)
    assert results["SessionId"] == session_id
    assert results["Status"] == "CREATED"
    assert results["ResponseMetadata"].get("RequestId"), "no x-amzn-RequestId on the response"


def test_create_without_parameters_makes_a_new_session_each_time(
    rekognition: MakeClient, server: ServerProcess
) -> None:
    client = rekognition(server)
    first = assert_session_id(client.create_face_liveness_session()["SessionId"])
    second = assert_session_id(client.create_face_liveness_session()["SessionId"])
    assert first != second


def test_get_unknown_session_raises_session_not_found(rekognition: MakeClient, server: ServerProcess) -> None:
    client = rekognition(server)
    with pytest.raises(client.exceptions.SessionNotFoundException) as raised:
        client.get_face_liveness_session_results(SessionId=str(uuid.uuid4()))
    assert_error(raised.value, "SessionNotFoundException")


def test_invalid_client_request_token_raises_invalid_parameter(
    rekognition: MakeClient, server: ServerProcess
) -> None:
    client = rekognition(server)
    with pytest.raises(client.exceptions.InvalidParameterException) as raised:
        client.create_face_liveness_session(ClientRequestToken="bad token!")
    assert_error(raised.value, "InvalidParameterException")


def test_tenant_b_cannot_read_tenant_a_session(rekognition: MakeClient, server: ServerProcess) -> None:
    client_a = rekognition(server, TENANT_A)
    client_b = rekognition(server, TENANT_B)
    token = unique_token("shared-token")
    session_a = assert_session_id(client_a.create_face_liveness_session(ClientRequestToken=token)["SessionId"])

    with pytest.raises(client_b.exceptions.SessionNotFoundException) as raised:
        client_b.get_face_liveness_session_results(SessionId=session_a)
    assert_error(raised.value, "SessionNotFoundException")

    # Client request tokens belong to a tenant too: B's same token is B's own, new session.
    session_b = assert_session_id(client_b.create_face_liveness_session(ClientRequestToken=token)["SessionId"])
    assert session_b != session_a
    assert client_b.get_face_liveness_session_results(SessionId=session_b)["Status"] == "CREATED"
    assert client_a.get_face_liveness_session_results(SessionId=session_a)["Status"] == "CREATED"


def test_wrong_secret_is_invalid_signature(rekognition: MakeClient, server: ServerProcess) -> None:
    client = rekognition(server, TENANT_A, secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as raised:
        client.create_face_liveness_session()
    assert_error(raised.value, "InvalidSignatureException")


def test_unknown_access_key_is_unrecognized_client(rekognition: MakeClient, server: ServerProcess) -> None:
    client = rekognition(server, Credential("AKIDUNKNOWNKEY", "whatever", "333333333333"))
    with pytest.raises(ClientError) as raised:
        client.get_face_liveness_session_results(SessionId=str(uuid.uuid4()))
    assert_error(raised.value, "UnrecognizedClientException")


def test_temporary_credentials_need_their_session_token(rekognition: MakeClient, server: ServerProcess) -> None:
    with_token = rekognition(server, TENANT_A_TEMPORARY)
    session_id = assert_session_id(with_token.create_face_liveness_session()["SessionId"])
    # Same tenant as A's long-term key: A's key sees the session.
    assert rekognition(server, TENANT_A).get_face_liveness_session_results(SessionId=session_id)["Status"] == "CREATED"

    # The key without its token, or with another token, is refused like an unknown key (as AWS).
    without_token = rekognition(server, dataclasses.replace(TENANT_A_TEMPORARY, session_token=None))
    with pytest.raises(ClientError) as raised:
        without_token.create_face_liveness_session()
    assert_error(raised.value, "UnrecognizedClientException")
    wrong_token = rekognition(server, TENANT_A_TEMPORARY, session_token="not-the-token")
    with pytest.raises(ClientError) as raised:
        wrong_token.create_face_liveness_session()
    assert_error(raised.value, "UnrecognizedClientException")


def test_audit_images_limit_out_of_range_is_clamped(rekognition: MakeClient, server: ServerProcess) -> None:
    client = rekognition(server)
    # botocore checks the model's minimum (0) but not its maximum (4): 10 reaches the server.
    high = client.create_face_liveness_session(Settings={"AuditImagesLimit": 10})
    assert client.get_face_liveness_session_results(SessionId=assert_session_id(high["SessionId"]))["Status"] == "CREATED"
    # Without client-side validation -1 is sent as it is.
    unchecked = rekognition(server, parameter_validation=False)
    low = unchecked.create_face_liveness_session(Settings={"AuditImagesLimit": -1})
    assert client.get_face_liveness_session_results(SessionId=assert_session_id(low["SessionId"]))["Status"] == "CREATED"


def test_error_wire_format(server: ServerProcess) -> None:
    """The raw awsJson1_1 error: status, headers and every member of the body."""
    body = json.dumps({"SessionId": str(uuid.uuid4())}).encode()
    request = AWSRequest(
        method="POST",
        url=f"{server.url}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "RekognitionService.GetFaceLivenessSessionResults",
        },
    )
    credentials = Credentials(TENANT_A.access_key_id, TENANT_A.secret_access_key)
    SigV4Auth(credentials, "rekognition", REGION).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers), method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as raised:
        opener.open(raw, timeout=30)
    response = raised.value
    assert response.code == 400
    assert response.headers.get("x-amzn-RequestId"), f"no x-amzn-RequestId: {dict(response.headers)}"
    error_type = response.headers.get("x-amzn-ErrorType", "")
    assert error_type.split(":")[0] == "SessionNotFoundException", f"x-amzn-ErrorType: {error_type!r}"
    payload = json.loads(response.read())
    assert payload["__type"] == "SessionNotFoundException", payload
    assert payload["Code"] == "SessionNotFoundException", payload
    assert isinstance(payload["Message"], str) and payload["Message"], payload
    assert payload["message"] == payload["Message"], payload
    assert isinstance(payload["Logref"], str) and payload["Logref"], payload
