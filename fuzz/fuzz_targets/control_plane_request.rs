//! Any body must decode and validate to a value or an `ApiError`, never a panic, for both
//! operations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openliveness_protocol::{
    decode, validate_create, validate_get, CreateFaceLivenessSessionRequest,
    GetFaceLivenessSessionResultsRequest,
};

fuzz_target!(|body: &[u8]| {
    if let Ok(request) = decode::<CreateFaceLivenessSessionRequest>(body) {
        if let Ok((settings, _)) = validate_create(&request) {
            assert!(settings.audit_images_limit <= 4);
        }
    }
    if let Ok(request) = decode::<GetFaceLivenessSessionResultsRequest>(body) {
        if let Ok(id) = validate_get(&request) {
            assert_eq!(Some(id.to_string()), request.session_id);
        }
    }
});
