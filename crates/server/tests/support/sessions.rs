//! Test support: sessions put straight into a server's store, for the tests of what comes after
//! CreateFaceLivenessSession.

use openliveness_protocol::{SessionId, SessionSettings};
use openliveness_server::AppState;
use openliveness_store::NewSession;

/// A new `CREATED` session of `tenant`, with the default settings, made at the server's time and
/// expiring as CreateFaceLivenessSession's do: its id.
pub async fn create_session(state: &AppState, tenant: &str) -> SessionId {
    let now = state.clock.now_millis();
    let session = NewSession {
        id: SessionId::random(),
        tenant: tenant.to_owned(),
        client_request_token: None,
        settings: SessionSettings::default(),
        created_at: now,
        expires_at: now + 180_000,
        purge_at: now + 3_780_000,
    };
    state.store.create(session).await.expect("a new session").id
}
