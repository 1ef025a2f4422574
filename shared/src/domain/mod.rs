//! Domain types and rules. Nothing in here performs I/O.

pub mod admin;
pub mod api_key;
pub mod audit;
pub mod audit_checkpoint;
pub mod billing;
pub mod content;
pub mod safety;
pub mod sealing;
pub mod settings;
pub mod signatures;
pub mod style;
pub mod tenant;
pub mod time;

pub use api_key::{ApiKey, ApiKeyHash, ApiKeyToken, KeyId, KeyRejection, PresentedKey};
pub use tenant::{parse_contact, PlanId, Tenant, TenantId, TenantName, TenantStatus};
pub use time::Timestamp;

/// A value supplied by a caller failed validation. The message is safe to show to them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

/// Checks a short human-readable label (tenant name, key name): trimmed length within
/// bounds and no control characters. Returns the trimmed value.
pub fn validate_label(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > max_chars {
        return Err(ValidationError(format!(
            "{field} must be 1 to {max_chars} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ValidationError(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Our ids are 32 lowercase hex digits; anything else names nothing (404, no lookup).
pub fn is_id(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lowercase hex of `bytes`: how hashes, fingerprints and key ids are written.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// A new time-ordered (UUID v7) identifier in its 32-hex-digit form.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(validate_label("name", "  Acme  ", 10).unwrap(), "Acme");
        assert!(validate_label("name", "   ", 10).is_err());
        assert!(validate_label("name", "abcdefghijk", 10).is_err());
        assert!(validate_label("name", "a\u{0}b", 10).is_err());
        assert_eq!(validate_label("name", "日本語", 3).unwrap(), "日本語");
    }

    #[test]
    fn hex_is_two_lowercase_digits_per_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn ids_are_32_hex_digits_and_time_ordered() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(a < b, "uuid v7 ids sort by creation time");
    }
}
