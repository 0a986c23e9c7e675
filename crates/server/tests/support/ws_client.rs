//! Test support, for `operator.rs` only until it moves: streams a whole session with
//! `openliveness-client` (use [`openliveness_client::Stream::stream_video`] directly instead).

use std::sync::Arc;

use openliveness_client::{Endpoint, Keys, Stream};
use openliveness_protocol::SessionId;
use openliveness_server::clock::Clock;

pub struct Client {
    stream: Stream,
}

impl Client {
    pub async fn connect(
        address: &str,
        clock: Arc<dyn Clock>,
        session: SessionId,
        key: &str,
        secret: &str,
    ) -> Client {
        let client =
            openliveness_client::Client::new(Endpoint::at(address), Keys::new(key, secret))
                .with_clock(Arc::new(move || clock.now()));
        let stream = client
            .start(&session.to_string(), (640, 480))
            .await
            .expect("start");
        Client { stream }
    }

    pub async fn stream(&mut self, video: &[u8]) -> (Vec<String>, Option<u16>) {
        self.stream.stream_video(video).await.expect("stream")
    }
}
