//! Test support: the engine's checks by name, in the order its report lists them.
//!
//! Shared by the engine's and the command line's tests (`#[path]`): it depends on nothing.

/// Every check the engine makes, in the order of the report's `checks`.
pub const CHECK_NAMES: [&str; 6] = [
    "one_face",
    "movement",
    "perspective",
    "integrity",
    "light_time",
    "light_space",
];
