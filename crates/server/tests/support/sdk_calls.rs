//! Test support: the control-plane calls of the official AWS SDK for Rust that the tests make
//! again and again, each unwrapped to what the test checks (a session id, the results, the
//! service's error).
//!
//! Shared by the server's and the command line's tests (`#[path]`): it depends on nothing but
//! `aws-sdk-rekognition`.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use aws_sdk_rekognition::operation::create_face_liveness_session::CreateFaceLivenessSessionError;
use aws_sdk_rekognition::operation::get_face_liveness_session_results::{
    GetFaceLivenessSessionResultsError, GetFaceLivenessSessionResultsOutput,
};
use aws_sdk_rekognition::Client;

/// CreateFaceLivenessSession without settings: the new session's id.
pub async fn create_session(client: &Client) -> String {
    client
        .create_face_liveness_session()
        .send()
        .await
        .expect("CreateFaceLivenessSession")
        .session_id
}

/// CreateFaceLivenessSession without settings, which must fail: the service's error.
pub async fn create_session_error(client: &Client) -> CreateFaceLivenessSessionError {
    client
        .create_face_liveness_session()
        .send()
        .await
        .expect_err("CreateFaceLivenessSession must fail")
        .into_service_error()
}

/// GetFaceLivenessSessionResults of a session.
pub async fn results(client: &Client, session_id: &str) -> GetFaceLivenessSessionResultsOutput {
    client
        .get_face_liveness_session_results()
        .session_id(session_id)
        .send()
        .await
        .expect("GetFaceLivenessSessionResults")
}

/// GetFaceLivenessSessionResults of a session, which must fail: the service's error.
pub async fn results_error(
    client: &Client,
    session_id: &str,
) -> GetFaceLivenessSessionResultsError {
    client
        .get_face_liveness_session_results()
        .session_id(session_id)
        .send()
        .await
        .expect_err("GetFaceLivenessSessionResults must fail")
        .into_service_error()
}

/// CreateFaceLivenessSession with a `ClientRequestToken`: the session's id.
pub async fn create_session_with_token(client: &Client, token: &str) -> String {
    client
        .create_face_liveness_session()
        .client_request_token(token)
        .send()
        .await
        .expect("CreateFaceLivenessSession")
        .session_id
}
