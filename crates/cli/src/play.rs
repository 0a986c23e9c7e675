//! Simulated sessions played against a running server (`simulate --endpoint`, `eval
//! --endpoint`): the simulator renders the response to the challenge the server issues,
//! `openliveness-client` plays it.

use std::process::ExitCode;

use openliveness_client::{Client, Endpoint, Keys, Pace};
use openliveness_sim::{Species, World};

/// The keys requests to `--endpoint` are signed with.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyArgs {
    /// Access key for --endpoint.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub access_key_id: Option<String>,

    /// Secret key for --endpoint.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: Option<String>,
}

impl KeyArgs {
    /// A client of `endpoint` (`http://HOST:PORT`) with these keys.
    pub fn client(&self, endpoint: &str) -> Result<Client, String> {
        let (Some(access_key_id), Some(secret_access_key)) =
            (&self.access_key_id, &self.secret_access_key)
        else {
            return Err("--endpoint needs --access-key-id and --secret-access-key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)".to_owned());
        };
        let endpoint = Endpoint::parse(endpoint).map_err(|error| format!("--endpoint {error}"))?;
        Ok(Client::new(
            endpoint,
            Keys::new(access_key_id, secret_access_key),
        ))
    }
}

pub use openliveness_cli::simulated::play_in;

/// `simulate --endpoint`: plays one session and prints what happened (without the images'
/// bytes).
pub fn run_one(
    client: &Client,
    species: Species,
    seed: u64,
    size: (u32, u32),
    world: World,
    pace: Pace,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return crate::fail(&error),
    };
    match runtime.block_on(play_in(client, species, seed, size, world, pace)) {
        Ok(played) => {
            let mut results = played.results.clone();
            // Keep the printout short: the images' bytes are not for a terminal.
            if let Some(image) = results
                .get_mut("ReferenceImage")
                .and_then(|v| v.as_object_mut())
            {
                image.remove("Bytes");
            }
            if let Some(audit) = results
                .get_mut("AuditImages")
                .and_then(|v| v.as_array_mut())
            {
                for image in audit {
                    if let Some(image) = image.as_object_mut() {
                        image.remove("Bytes");
                    }
                }
            }
            let report = serde_json::json!({
                "SessionId": played.session_id,
                "received": played.received,
                "close_code": played.close_code,
                "disconnect_ms": played.disconnect_ms,
                "results": results,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(error) => crate::fail(&error),
    }
}
