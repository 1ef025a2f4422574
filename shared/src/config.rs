//! Defaults of the settings the wirings read from the environment
//! (`functions/endpoints/src/aws.rs` in AWS, `infra/local` locally).

/// A key's last-used time is written at most once per this many seconds
/// (`KEY_LAST_USED_INTERVAL_SECONDS`).
pub const DEFAULT_KEY_LAST_USED_INTERVAL_SECONDS: i64 = 300;
