//! Test support: the official AWS SDK for Rust's Rekognition client for a server in process
//! that reads its time from a [`ManualClock`]. The SDK signs at the same manual time (no clock
//! skew correction), so that its signatures move with the server's clock, and never retries,
//! so that every refusal reaches the test.
//!
//! Depends on `aws-sdk-rekognition`, `aws-smithy-async` and the server's clock.

use std::sync::Arc;
use std::time::SystemTime;

use aws_sdk_rekognition::config::retry::RetryConfig;
use aws_sdk_rekognition::config::{BehaviorVersion, Credentials, Region};
use openliveness_server::clock::{Clock, ManualClock};

/// The SDK's view of the manual clock.
#[derive(Debug)]
struct SdkTime(Arc<ManualClock>);

impl aws_smithy_async::time::TimeSource for SdkTime {
    fn now(&self) -> SystemTime {
        self.0.now()
    }
}

/// A client of the server at `url` (`http://host:port`) signing with `key` and `secret`.
pub fn client(
    url: &str,
    key: &str,
    secret: &str,
    clock: &Arc<ManualClock>,
) -> aws_sdk_rekognition::Client {
    let config = aws_sdk_rekognition::Config::builder()
        .time_source(SdkTime(Arc::clone(clock)))
        .disable_clock_skew_correction(true)
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_rekognition::Client::from_conf(config)
}
