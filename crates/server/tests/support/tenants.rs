//! Test support: the tenants and keys the tests sign with: the owner's tenant, with a key that
//! may do everything and a key that may only read results, and another tenant with a key of its
//! own.
//!
//! Shared by the server's and the command line's tests (`#[path]`): it depends on nothing but
//! `openliveness-auth`.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use openliveness_auth::Credential;

pub const TENANT: &str = "111111111111";
pub const KEY: &str = "AKIDOWNER";
pub const SECRET: &str = "owner-secret";
/// A key of `TENANT` that may only read results.
pub const READER_KEY: &str = "AKIDREADER";
pub const READER_SECRET: &str = "reader-secret";
pub const OTHER_TENANT: &str = "222222222222";
pub const OTHER_KEY: &str = "AKIDOTHERTENANT";
pub const OTHER_SECRET: &str = "other-secret";

/// A key of `tenant`; `actions` limits what it may do.
pub fn credential(key: &str, secret: &str, tenant: &str, actions: Option<&[&str]>) -> Credential {
    Credential {
        allowed_actions: actions.map(|actions| actions.iter().map(|a| (*a).to_owned()).collect()),
        ..Credential::new(key, secret, tenant)
    }
}

/// The keys above, as a server's configuration lists them.
pub fn credentials() -> Vec<Credential> {
    vec![
        credential(KEY, SECRET, TENANT, None),
        credential(OTHER_KEY, OTHER_SECRET, OTHER_TENANT, None),
        credential(
            READER_KEY,
            READER_SECRET,
            TENANT,
            Some(&["rekognition:GetFaceLivenessSessionResults"]),
        ),
    ]
}
