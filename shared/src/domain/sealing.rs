//! Keyed integrity of stored generations (threat T05, spec section 11): a seal is
//! HMAC-SHA256 under a key the store does not hold (Secrets Manager in AWS, the data
//! directory locally), so someone who can rewrite a record cannot recompute its seal the
//! way they could a plain SHA-256. Seals name their key (`v3:<key id>:<hex>`), so keys
//! rotate: a keyring holds the current key and the older ones that still verify.
//!
//! Records sealed before keys existed carry a plain hash (`v2:`, `v1`). They verify only
//! while the keyring says `accept_unkeyed` — i.e. until the migration
//! (`nutripro-local reseal`) has re-sealed every one of them; after that an unkeyed seal
//! is refused, which is what stops a downgrade (a rewritten record given a fresh plain
//! hash).

use super::hex;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// A sealing key: its id (recorded in every seal it makes) and 32 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey {
    pub id: String,
    bytes: [u8; 32],
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealingKey({}, redacted)", self.id)
    }
}

impl SealingKey {
    /// A key from secret text of at least 32 characters (its SHA-256 is the key).
    pub fn from_text(id: &str, text: &str) -> Result<Self, String> {
        if !key_id_ok(id) {
            return Err(format!("sealing key id {id:?}: 1 to 32 of a-z A-Z 0-9 - _"));
        }
        if text.chars().count() < 32 {
            return Err(format!(
                "sealing key {id}: at least 32 characters of secret"
            ));
        }
        Ok(Self {
            id: id.to_owned(),
            bytes: Sha256::digest(text.as_bytes()).into(),
        })
    }

    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.bytes, message)
    }
}

fn key_id_ok(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The keys seals are made and checked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    current: String,
    keys: BTreeMap<String, SealingKey>,
    /// Whether records sealed before keys existed (plain SHA-256) still verify.
    pub accept_unkeyed: bool,
}

/// The keyring's stored form (a Secrets Manager secret's JSON, or a file locally):
/// `{"current": "k1", "accept_unkeyed": false, "k1": "<≥32 characters>", "k0": "…"}` —
/// every member but `current` and `accept_unkeyed` is a key.
impl Keyring {
    pub fn parse(json: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|_| "the sealing keyring is not JSON".to_owned())?;
        let object = value
            .as_object()
            .ok_or("the sealing keyring is not a JSON object")?;
        let current = object
            .get("current")
            .and_then(|v| v.as_str())
            .ok_or("the sealing keyring names no current key")?
            .to_owned();
        let accept_unkeyed = match object.get("accept_unkeyed") {
            None => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(_) => return Err("accept_unkeyed must be true or false".into()),
        };
        let mut keys = BTreeMap::new();
        for (id, text) in object {
            if id == "current" || id == "accept_unkeyed" {
                continue;
            }
            let text = text
                .as_str()
                .ok_or(format!("sealing key {id} is not text"))?;
            keys.insert(id.clone(), SealingKey::from_text(id, text)?);
        }
        if !keys.contains_key(&current) {
            return Err(format!(
                "the current sealing key {current} is not in the keyring"
            ));
        }
        Ok(Self {
            current,
            keys,
            accept_unkeyed,
        })
    }

    /// A keyring of one new random key (a new local data directory).
    pub fn generate(accept_unkeyed: bool) -> (Self, String) {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).expect("the OS random source");
        let text = hex(&random);
        let json =
            serde_json::json!({"current": "k1", "accept_unkeyed": accept_unkeyed, "k1": text})
                .to_string();
        (
            Self::parse(&json).expect("a generated keyring parses"),
            json,
        )
    }

    pub fn current(&self) -> &SealingKey {
        &self.keys[&self.current]
    }

    pub fn key(&self, id: &str) -> Option<&SealingKey> {
        self.keys.get(id)
    }

    /// The seal of `digest` (a record's canonical SHA-256) under the current key.
    pub fn seal(&self, digest: &[u8]) -> String {
        let key = self.current();
        format!("{SEAL_V3}{}:{}", key.id, hex(&key.mac(&mac_input(digest))))
    }

    /// How `seal` stands against `digest`.
    pub fn check(&self, seal: &str, digest: &[u8]) -> SealCheck {
        let Some(rest) = seal.strip_prefix(SEAL_V3) else {
            return SealCheck::Unkeyed;
        };
        let Some((id, mac)) = rest.split_once(':') else {
            return SealCheck::Broken;
        };
        let Some(key) = self.key(id) else {
            return SealCheck::Broken;
        };
        let expected = hex(&key.mac(&mac_input(digest)));
        if bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
            if id == self.current {
                SealCheck::Intact
            } else {
                SealCheck::IntactOldKey
            }
        } else {
            SealCheck::Broken
        }
    }
}

/// The prefix of a keyed seal.
pub const SEAL_V3: &str = "v3:";

fn mac_input(digest: &[u8]) -> Vec<u8> {
    let mut input = b"nutripro-generation-v3\0".to_vec();
    input.extend_from_slice(digest);
    input
}

/// What a seal says about a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealCheck {
    /// Keyed, under the current key.
    Intact,
    /// Keyed, under an older key of the ring (worth re-sealing).
    IntactOldKey,
    /// A plain hash from before keys: the caller checks it, and accepts it only while
    /// the keyring does.
    Unkeyed,
    /// Wrong, or under a key the ring does not have.
    Broken,
}

#[cfg(test)]
mod tests {
    use super::hex;
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 4231's HMAC-SHA256 test cases 1, 2, 3 and 6 (a key longer than a block).
    #[test]
    fn hmac_matches_rfc_4231() {
        let cases = [
            (
                unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                unhex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, message, expected) in cases {
            assert_eq!(hex(&hmac_sha256(&key, &message)), expected);
        }
    }

    #[test]
    fn seals_name_their_key_and_old_keys_still_verify() {
        let old = Keyring::parse(&format!(
            r#"{{"current": "k1", "k1": "{}"}}"#,
            "a".repeat(40)
        ))
        .unwrap();
        let digest = Sha256::digest(b"record");
        let seal = old.seal(&digest);
        assert!(seal.starts_with("v3:k1:"));
        assert_eq!(old.check(&seal, &digest), SealCheck::Intact);
        assert_eq!(
            old.check(&seal, &Sha256::digest(b"changed")),
            SealCheck::Broken
        );
        let rotated = Keyring::parse(&format!(
            r#"{{"current": "k2", "k1": "{}", "k2": "{}"}}"#,
            "a".repeat(40),
            "b".repeat(40)
        ))
        .unwrap();
        assert_eq!(rotated.check(&seal, &digest), SealCheck::IntactOldKey);
        assert!(rotated.seal(&digest).starts_with("v3:k2:"));
        let other = Keyring::parse(&format!(
            r#"{{"current": "k1", "k1": "{}"}}"#,
            "c".repeat(40)
        ))
        .unwrap();
        assert_eq!(
            other.check(&seal, &digest),
            SealCheck::Broken,
            "another key"
        );
        assert_eq!(other.check("v2:abc", &digest), SealCheck::Unkeyed);
        assert!(
            !other.accept_unkeyed,
            "unkeyed seals are refused unless the ring says so"
        );
    }

    #[test]
    fn bad_keyrings_are_refused() {
        for json in [
            "[]",
            r#"{"k1": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
            r#"{"current": "k2", "k1": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
            r#"{"current": "k1", "k1": "short"}"#,
            r#"{"current": "k1", "k1": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "accept_unkeyed": "yes"}"#,
        ] {
            assert!(Keyring::parse(json).is_err(), "{json}");
        }
        let (ring, json) = Keyring::generate(false);
        assert_eq!(Keyring::parse(&json).unwrap(), ring);
        assert!(
            !format!("{ring:?}").contains(&json[json.len() - 20..]),
            "Debug redacts keys"
        );
    }
}
