//! `openliveness simulate --endpoint`: play one simulated session against a running server.

use std::process::ExitCode;

use openliveness_sim::client::{play, Target};

use crate::simulate::SimulateArgs;

pub fn run_one(args: &SimulateArgs, endpoint: &str) -> ExitCode {
    let (Some(access_key_id), Some(secret_access_key)) =
        (args.access_key_id.clone(), args.secret_access_key.clone())
    else {
        return crate::fail(&"--endpoint needs --access-key-id and --secret-access-key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
    };
    let target = Target {
        endpoint: endpoint.to_owned(),
        access_key_id,
        secret_access_key,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return crate::fail(&error),
    };
    match runtime.block_on(play(
        &target,
        args.species,
        args.seed,
        args.size,
        !args.fast,
    )) {
        Ok(played) => {
            let mut results = played.results.clone();
            // Keep the printout short: the images' bytes are not for a terminal.
            for key in ["ReferenceImage"] {
                if let Some(image) = results.get_mut(key).and_then(|v| v.as_object_mut()) {
                    image.remove("Bytes");
                }
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
