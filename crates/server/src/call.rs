//! What a handler of the authenticated pipeline ([`crate::pipeline`]) is given and how it refuses.
//!
//! These types live apart from the pipeline because the pipeline calls its handlers: the
//! handlers (`control`, `report`, `client_credentials`) depend on this file, the pipeline on
//! them and on this file, and no file on itself through another.

use std::collections::HashMap;

use axum::http::StatusCode;
use openliveness_auth::TenantId;
use openliveness_protocol::ApiError;

use crate::AppState;

/// What a handler gets: a request that passed every shared step.
pub struct Call<'a> {
    pub state: &'a AppState,
    /// The caller's tenant: the signing key's, or the anonymous tenant.
    pub tenant: TenantId,
    /// The whole body, within its limit.
    pub body: Vec<u8>,
    /// The route's path parameters, percent-decoded; none when one of them is not UTF-8.
    pub path: PathParameters,
}

/// The parameters of a route's pattern ([`crate::pipeline::Address::Route`]), by name.
#[derive(Debug, Default)]
pub struct PathParameters(HashMap<String, String>);

impl PathParameters {
    pub(crate) fn new(parameters: HashMap<String, String>) -> PathParameters {
        PathParameters(parameters)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// A refusal: the error, and the HTTP status when the resource's REST status differs from the
/// awsJson1_1 one (404 for a missing session, 409 for one not decided yet).
#[derive(Debug)]
pub struct Refusal {
    pub error: ApiError,
    pub status: Option<StatusCode>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal {
            error,
            status: None,
        }
    }
}
