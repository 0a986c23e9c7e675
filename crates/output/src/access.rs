//! How the output reaches an AWS service ([`S3Config`](crate::S3Config) and
//! [`AwsKmsConfig`](crate::AwsKmsConfig) name it alike): the endpoint, the region and the
//! credentials, each credential from the configuration or else from the environment.

/// The endpoint, region and credentials of one service's configuration, borrowed.
pub(crate) struct Access<'a> {
    pub endpoint: &'a Option<String>,
    pub region: &'a Option<String>,
    pub access_key_id: &'a Option<String>,
    pub secret_access_key: &'a Option<String>,
    pub session_token: &'a Option<String>,
}

impl Access<'_> {
    /// The configured region, else `us-east-1`.
    pub fn region(&self) -> &str {
        self.region.as_deref().unwrap_or("us-east-1")
    }

    /// The configured key id, else `AWS_ACCESS_KEY_ID`.
    pub fn access_key_id(&self) -> Option<String> {
        or_env(self.access_key_id, "AWS_ACCESS_KEY_ID")
    }

    /// The configured secret, else `AWS_SECRET_ACCESS_KEY`.
    pub fn secret_access_key(&self) -> Option<String> {
        or_env(self.secret_access_key, "AWS_SECRET_ACCESS_KEY")
    }

    /// The configured session token, else `AWS_SESSION_TOKEN`.
    pub fn session_token(&self) -> Option<String> {
        or_env(self.session_token, "AWS_SESSION_TOKEN")
    }

    /// Adds the fields to a `Debug` of the configuration, the secrets redacted.
    pub fn debug_fields(&self, debug: &mut std::fmt::DebugStruct<'_, '_>) {
        debug
            .field("endpoint", self.endpoint)
            .field("region", self.region)
            .field("access_key_id", self.access_key_id)
            .field(
                "secret_access_key",
                &crate::redacted(self.secret_access_key),
            )
            .field("session_token", &crate::redacted(self.session_token));
    }
}

/// `impl $config { fn access(&self) -> Access }` for a configuration with the five fields of
/// [`Access`].
macro_rules! access_of {
    ($config:ty) => {
        impl $config {
            fn access(&self) -> $crate::access::Access<'_> {
                $crate::access::Access {
                    endpoint: &self.endpoint,
                    region: &self.region,
                    access_key_id: &self.access_key_id,
                    secret_access_key: &self.secret_access_key,
                    session_token: &self.session_token,
                }
            }
        }
    };
}
pub(crate) use access_of;

/// `configured`, else the environment variable `name` when it is set and not empty.
fn or_env(configured: &Option<String>, name: &str) -> Option<String> {
    configured
        .clone()
        .or_else(|| std::env::var(name).ok().filter(|value| !value.is_empty()))
}
