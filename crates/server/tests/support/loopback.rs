//! Test support: the server in process, on a loopback port of its own.

use std::net::SocketAddr;
use std::sync::Arc;

use openliveness_server::AppState;

/// Serves `state` on a free loopback port until the test ends: the port's address.
pub async fn serve(state: &Arc<AppState>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    let served = Arc::clone(state);
    tokio::spawn(async move {
        openliveness_server::serve(listener, served, None, std::future::pending())
            .await
            .expect("serve");
    });
    address
}
