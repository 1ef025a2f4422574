//! HTTP Message Signatures (RFC 9421) and Content-Digest (RFC 9530): what a signed
//! request must carry (spec section 11, threats T04 and T08), how it is checked, and
//! what is kept of it so the tenant cannot later deny having sent it.
//!
//! A client registers a public key (Ed25519 or ECDSA P-256) for one of its API keys; the
//! service never holds anything that could forge the client's signature. A signed
//! request carries `Signature-Input` and `Signature`, one signature labelled freely whose
//! `keyid` is the API key's id, covering at least `@method`, `@path`, `@query` and, when
//! there is a body, `content-digest`; its `created` is within ±[`MAX_SKEW_SECONDS`] of
//! the server's clock and it has a `nonce` the service accepts once.

pub mod sfv;

use super::{hex, KeyId, Timestamp, ValidationError};
use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ED25519};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sfv::{BareItem, Item, Member};
use sha2::{Digest, Sha256, Sha512};
use std::fmt;

/// How far a signature's `created` may be from the server's clock, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;
/// How long a nonce is remembered: a signature older than the skew is refused anyway,
/// so a nonce only needs to outlive it (plus a minute for clocks that disagree).
pub const NONCE_RETENTION_SECONDS: i64 = 2 * MAX_SKEW_SECONDS + 60;
const NONCE_MIN: usize = 8;
const NONCE_MAX: usize = 128;

/// A signature algorithm of the RFC 9421 registry that we verify (and sign receipts
/// with: `ecdsa-p256-sha256`, what AWS KMS signs with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    #[serde(rename = "ed25519")]
    Ed25519,
    #[serde(rename = "ecdsa-p256-sha256")]
    EcdsaP256Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 2] = [Algorithm::Ed25519, Algorithm::EcdsaP256Sha256];

    /// The name in the HTTP Signature Algorithms registry (RFC 9421 section 6.2).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::EcdsaP256Sha256 => "ecdsa-p256-sha256",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// The length of a public key in its raw form: 32 bytes (RFC 8032), or the 65-byte
    /// uncompressed SEC 1 point.
    fn public_key_len(self) -> usize {
        match self {
            Self::Ed25519 => 32,
            Self::EcdsaP256Sha256 => 65,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client's public key, registered for one API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSigningKey {
    pub algorithm: Algorithm,
    /// The raw public key (32 bytes for Ed25519, the 65-byte uncompressed point for P-256).
    pub public_key: Vec<u8>,
    /// Whether requests without a valid signature are refused (else a signature is
    /// checked when present and unsigned requests still pass).
    pub required: bool,
    pub registered_at: Timestamp,
}

impl ClientSigningKey {
    /// Checks a public key as a caller gives it: base64 or base64url (padding optional)
    /// of the raw key, or a PEM / base64 DER `SubjectPublicKeyInfo` of that algorithm.
    pub fn new(
        algorithm: Algorithm,
        public_key: &str,
        required: bool,
        now: Timestamp,
    ) -> Result<Self, ValidationError> {
        let raw = decode_public_key(algorithm, public_key).ok_or_else(|| {
            ValidationError(format!(
                "public_key must be the base64 of a raw {algorithm} public key ({} bytes) or its PEM SubjectPublicKeyInfo",
                algorithm.public_key_len()
            ))
        })?;
        // A point that is not on the curve (or a small-order Ed25519 key) verifies
        // nothing: refuse it now rather than on every request.
        if !key_is_usable(algorithm, &raw) {
            return Err(ValidationError(format!(
                "public_key is not a valid {algorithm} public key"
            )));
        }
        Ok(Self {
            algorithm,
            public_key: raw,
            required,
            registered_at: now,
        })
    }

    /// The stored form: `{"algorithm", "public_key" (base64url), "required",
    /// "registered_at" (epoch ms)}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "algorithm": self.algorithm,
            "public_key": self.public_key_text(),
            "required": self.required,
            "registered_at": self.registered_at.as_millis(),
        })
        .to_string()
    }

    pub fn from_json(text: &str) -> Option<Self> {
        #[derive(Deserialize)]
        struct Stored {
            algorithm: Algorithm,
            public_key: String,
            required: bool,
            registered_at: i64,
        }
        let stored: Stored = serde_json::from_str(text).ok()?;
        let mut key = Self::from_context(
            stored.algorithm.as_str(),
            &stored.public_key,
            stored.required,
        )?;
        key.registered_at = Timestamp::from_millis(stored.registered_at);
        Some(key)
    }

    /// The key as the authorizer passes it on: unpadded base64url.
    pub fn public_key_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.public_key)
    }

    /// SHA-256 of the raw key, hex: how lists and audit entries name it.
    pub fn fingerprint(&self) -> String {
        hex(&Sha256::digest(&self.public_key))
    }

    /// Rebuilds a key from the authorizer context's fields.
    pub fn from_context(algorithm: &str, public_key: &str, required: bool) -> Option<Self> {
        let algorithm = Algorithm::parse(algorithm)?;
        let public_key = URL_SAFE_NO_PAD.decode(public_key).ok()?;
        (public_key.len() == algorithm.public_key_len()).then_some(Self {
            algorithm,
            public_key,
            required,
            registered_at: Timestamp::from_millis(0),
        })
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let algorithm: &dyn aws_lc_rs::signature::VerificationAlgorithm = match self.algorithm {
            Algorithm::Ed25519 => &ED25519,
            Algorithm::EcdsaP256Sha256 => &ECDSA_P256_SHA256_FIXED,
        };
        UnparsedPublicKey::new(algorithm, &self.public_key)
            .verify(message, signature)
            .is_ok()
    }
}

fn key_is_usable(algorithm: Algorithm, raw: &[u8]) -> bool {
    match algorithm {
        Algorithm::Ed25519 => aws_lc_rs::signature::ParsedPublicKey::new(&ED25519, raw).is_ok(),
        Algorithm::EcdsaP256Sha256 => {
            aws_lc_rs::signature::ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, raw).is_ok()
        }
    }
}

/// DER prefixes of a `SubjectPublicKeyInfo` whose key is the raw bytes that follow.
const ED25519_SPKI_PREFIX: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn decode_public_key(algorithm: Algorithm, text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .flat_map(|line| line.trim().chars())
        .collect();
    let unpadded = body.trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD.decode(unpadded).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(unpadded)
            .ok()
    })?;
    let prefix = match algorithm {
        Algorithm::Ed25519 => ED25519_SPKI_PREFIX,
        Algorithm::EcdsaP256Sha256 => P256_SPKI_PREFIX,
    };
    let raw = bytes.strip_prefix(prefix).unwrap_or(&bytes).to_vec();
    (raw.len() == algorithm.public_key_len()).then_some(raw)
}

/// The public key of a P-256 key pair as a `SubjectPublicKeyInfo` (DER), for JWKs and
/// PEM output.
pub fn p256_spki(raw: &[u8]) -> Vec<u8> {
    [P256_SPKI_PREFIX, raw].concat()
}

/// Strips the SPKI wrapping from a P-256 public key (what AWS KMS `GetPublicKey` returns).
pub fn p256_raw_from_spki(der: &[u8]) -> Option<Vec<u8>> {
    der.strip_prefix(P256_SPKI_PREFIX)
        .filter(|raw| raw.len() == 65)
        .map(<[u8]>::to_vec)
}

/// What is kept of a verified request signature, with the sample or generation it
/// created: enough for anyone holding the registered public key to check it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSignature {
    /// The signature's label in `Signature-Input` / `Signature`.
    pub label: String,
    pub algorithm: Algorithm,
    /// The `keyid` (the API key's id).
    pub key_id: String,
    /// The signature's `created` (Unix seconds).
    pub created: i64,
    pub nonce: String,
    /// The signature's member of `Signature-Input`, as serialized into the base.
    pub signature_input: String,
    /// The signature bytes, base64.
    pub signature: String,
    /// The exact bytes that were signed (RFC 9421 section 2.5).
    pub signature_base: String,
    /// The `Content-Digest` field the signature covered, if it covered one.
    pub content_digest: Option<String>,
    /// SHA-256 of the public key that verified it (hex).
    pub public_key_fingerprint: String,
}

impl RequestSignature {
    /// The stored form (compact JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// Checks the kept signature again with `key` (the one registered when it was made):
    /// what settles a later dispute about who asked for a text.
    pub fn verifies_with(&self, key: &ClientSigningKey) -> bool {
        STANDARD
            .decode(&self.signature)
            .is_ok_and(|signature| key.verify(self.signature_base.as_bytes(), &signature))
    }
}

/// Why a request's signature was refused. Every one is a 401; the text says what to fix
/// and is safe to show (it names no secret and no stored value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The key requires signatures and the request has none.
    Required,
    Malformed(String),
    /// No signature's `keyid` is the API key's id.
    NoSignatureForKey,
    MissingComponent(&'static str),
    UnsupportedComponent(String),
    MissingField(String),
    Stale,
    Expired,
    Nonce(&'static str),
    AlgorithmMismatch,
    BadSignature,
    DigestMismatch,
    /// The nonce was already used (a replay).
    Replayed,
}

impl Rejection {
    /// A short reason for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Required => "signature_required",
            Self::Malformed(_) => "malformed",
            Self::NoSignatureForKey => "no_signature_for_key",
            Self::MissingComponent(_) => "missing_component",
            Self::UnsupportedComponent(_) => "unsupported_component",
            Self::MissingField(_) => "missing_field",
            Self::Stale => "stale",
            Self::Expired => "expired",
            Self::Nonce(_) => "bad_nonce",
            Self::AlgorithmMismatch => "algorithm_mismatch",
            Self::BadSignature => "bad_signature",
            Self::DigestMismatch => "digest_mismatch",
            Self::Replayed => "replayed",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Required => write!(f, "This API key requires signed requests (RFC 9421): send Signature-Input and Signature."),
            Self::Malformed(what) => write!(f, "The request signature is malformed: {what}."),
            Self::NoSignatureForKey => write!(f, "No signature in Signature-Input has this API key's id as its keyid."),
            Self::MissingComponent(name) => write!(f, "The signature must cover {name}."),
            Self::UnsupportedComponent(name) => write!(f, "The signature covers {name}, which this service does not resolve; cover @method, @path, @query, @authority and header fields only, without parameters."),
            Self::MissingField(name) => write!(f, "The signature covers the field {name}, which the request does not carry."),
            Self::Stale => write!(f, "The signature's created time is more than {MAX_SKEW_SECONDS} s from the server's clock (or missing)."),
            Self::Expired => write!(f, "The signature has expired."),
            Self::Nonce(what) => write!(f, "The signature's nonce {what}."),
            Self::AlgorithmMismatch => write!(f, "The signature's alg is not the algorithm of the registered key."),
            Self::BadSignature => write!(f, "The signature does not verify with the registered public key."),
            Self::DigestMismatch => write!(f, "Content-Digest does not match the request body (RFC 9530; sha-256 or sha-512)."),
            Self::Replayed => write!(f, "This signature's nonce was already used: sign every request with a new nonce."),
        }
    }
}

/// The parts of a request a signature can cover.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as the client requested it.
    pub path: &'a str,
    /// The query without `?` (none: no query).
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

/// Checks a request's signature against the key registered for `key_id`: the
/// signature, its coverage, its times and nonce syntax, and the body's digest. The
/// nonce is not claimed here (that is the store's single-use write).
///
/// `Ok(None)`: the request is unsigned and the key does not require signatures.
pub fn verify_request(
    request: &SignedRequest<'_>,
    key_id: &KeyId,
    key: &ClientSigningKey,
    now: Timestamp,
) -> Result<Option<RequestSignature>, Rejection> {
    let (Some(input), Some(signature)) = (
        joined_field(request.headers, "signature-input"),
        joined_field(request.headers, "signature"),
    ) else {
        if has_field(request.headers, "signature-input") || has_field(request.headers, "signature")
        {
            return Err(Rejection::Malformed(
                "Signature-Input and Signature come together".into(),
            ));
        }
        return if key.required {
            Err(Rejection::Required)
        } else {
            Ok(None)
        };
    };
    let inputs = sfv::parse_dictionary(&input)
        .map_err(|e| Rejection::Malformed(format!("Signature-Input: {}", e.0)))?;
    let signatures = sfv::parse_dictionary(&signature)
        .map_err(|e| Rejection::Malformed(format!("Signature: {}", e.0)))?;
    let mut ours = inputs.iter().filter(|(_, member)| {
        matches!(member, Member::InnerList(_, params)
            if sfv::param(params, "keyid") == Some(&BareItem::String(key_id.to_string())))
    });
    let (label, member) = ours.next().ok_or(Rejection::NoSignatureForKey)?;
    if ours.next().is_some() {
        return Err(Rejection::Malformed(
            "more than one signature names this key".into(),
        ));
    }
    let Member::InnerList(components, params) = member else {
        unreachable!("filtered to inner lists")
    };
    let signature_bytes = match signatures.iter().find(|(l, _)| l == label) {
        Some((
            _,
            Member::Item(Item {
                value: BareItem::Bytes(bytes),
                ..
            }),
        )) => bytes.clone(),
        Some(_) => {
            return Err(Rejection::Malformed(
                "the Signature member must be a byte sequence".into(),
            ))
        }
        None => {
            return Err(Rejection::Malformed(format!(
                "Signature has no member labelled {label}"
            )))
        }
    };
    let meta = Metadata::read(params, now)?;
    if meta
        .algorithm
        .is_some_and(|alg| alg != key.algorithm.as_str())
    {
        return Err(Rejection::AlgorithmMismatch);
    }
    let names = component_names(components)?;
    for required in ["@method", "@path", "@query"] {
        if !names.iter().any(|n| n == required) {
            return Err(Rejection::MissingComponent(required));
        }
    }
    let covers_digest = names.iter().any(|n| n == "content-digest");
    if !request.body.is_empty() && !covers_digest {
        return Err(Rejection::MissingComponent("content-digest"));
    }
    let mut lines = Vec::with_capacity(names.len());
    for name in &names {
        lines.push((format!("\"{name}\""), resolve(request, name)?));
    }
    let mut params_text = String::new();
    sfv::write_inner_list(&mut params_text, components, params);
    let base = signature_base(&lines, &params_text);
    if !key.verify(base.as_bytes(), &signature_bytes) {
        return Err(Rejection::BadSignature);
    }
    let content_digest = joined_field(request.headers, "content-digest");
    if covers_digest || content_digest.is_some() {
        check_content_digest(content_digest.as_deref().unwrap_or_default(), request.body)?;
    }
    Ok(Some(RequestSignature {
        label: label.clone(),
        algorithm: key.algorithm,
        key_id: key_id.to_string(),
        created: meta.created,
        nonce: meta.nonce,
        signature_input: format!("{label}={params_text}"),
        signature: STANDARD.encode(&signature_bytes),
        signature_base: base,
        content_digest: if covers_digest { content_digest } else { None },
        public_key_fingerprint: key.fingerprint(),
    }))
}

struct Metadata {
    created: i64,
    nonce: String,
    algorithm: Option<String>,
}

impl Metadata {
    fn read(params: &sfv::Parameters, now: Timestamp) -> Result<Self, Rejection> {
        let now_seconds = now.as_millis().div_euclid(1000);
        let created = match sfv::param(params, "created") {
            Some(BareItem::Integer(created)) => *created,
            _ => return Err(Rejection::Stale),
        };
        if (now_seconds - created).abs() > MAX_SKEW_SECONDS {
            return Err(Rejection::Stale);
        }
        match sfv::param(params, "expires") {
            None => {}
            Some(BareItem::Integer(expires)) if *expires > now_seconds => {}
            Some(BareItem::Integer(_)) => return Err(Rejection::Expired),
            Some(_) => return Err(Rejection::Malformed("expires must be an integer".into())),
        }
        let nonce = match sfv::param(params, "nonce") {
            Some(BareItem::String(nonce)) => nonce.clone(),
            Some(_) => return Err(Rejection::Nonce("must be a string")),
            None => {
                return Err(Rejection::Nonce(
                    "is missing: every signed request needs one",
                ))
            }
        };
        if !(NONCE_MIN..=NONCE_MAX).contains(&nonce.len()) {
            return Err(Rejection::Nonce("must be 8 to 128 characters"));
        }
        if !nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b))
        {
            return Err(Rejection::Nonce(
                "may use letters, digits and - _ . ~ + / = only",
            ));
        }
        let algorithm = match sfv::param(params, "alg") {
            None => None,
            Some(BareItem::String(alg)) => Some(alg.clone()),
            Some(_) => return Err(Rejection::Malformed("alg must be a string".into())),
        };
        Ok(Self {
            created,
            nonce,
            algorithm,
        })
    }
}

/// The covered components' names, checked: strings, lowercase, each once, without
/// parameters (a request signature here covers the request itself, whole fields).
fn component_names(components: &[Item]) -> Result<Vec<String>, Rejection> {
    let mut names: Vec<String> = Vec::with_capacity(components.len());
    for component in components {
        let BareItem::String(name) = &component.value else {
            return Err(Rejection::Malformed(
                "covered components must be strings".into(),
            ));
        };
        if !component.params.is_empty() {
            return Err(Rejection::UnsupportedComponent(format!(
                "{name} with parameters"
            )));
        }
        if name.is_empty() || *name != name.to_ascii_lowercase() || names.contains(name) {
            return Err(Rejection::Malformed(format!(
                "component {name:?} must be lowercase and appear once"
            )));
        }
        names.push(name.clone());
    }
    Ok(names)
}

fn resolve(request: &SignedRequest<'_>, name: &str) -> Result<String, Rejection> {
    let value = match name {
        "@method" => request.method.to_owned(),
        "@path" => {
            if request.path.is_empty() {
                "/".to_owned()
            } else {
                request.path.to_owned()
            }
        }
        "@query" => format!("?{}", request.query.unwrap_or_default()),
        "@authority" => joined_field(request.headers, "host")
            .ok_or_else(|| Rejection::MissingField("host".into()))?
            .to_ascii_lowercase(),
        derived if derived.starts_with('@') => {
            return Err(Rejection::UnsupportedComponent(derived.to_owned()))
        }
        field => joined_field(request.headers, field)
            .ok_or_else(|| Rejection::MissingField(field.to_owned()))?,
    };
    if value.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
        return Err(Rejection::Malformed(format!(
            "the value of {name} is not printable ASCII"
        )));
    }
    Ok(value)
}

/// The label of the service's response signature (its receipt).
pub const RECEIPT_LABEL: &str = "receipt";

/// What a receipt signs: the response's status, its `Content-Digest`, the request id and,
/// when the request was signed, the request's signature (`"signature";req;key=<label>`,
/// RFC 9421 section 2.4), so the receipt is bound to exactly that request.
pub struct ReceiptInput<'a> {
    pub status: u16,
    pub content_digest: &'a str,
    pub request_id: &'a str,
    pub request_signature: Option<&'a RequestSignature>,
    /// The service key's id (as published at the well-known endpoint).
    pub key_id: &'a str,
    pub created: i64,
}

/// A receipt's signature base and its `Signature-Input` member (`receipt=(...)...`).
pub fn receipt_base(input: &ReceiptInput<'_>) -> (String, String) {
    let mut components = vec![
        (
            Item {
                value: BareItem::String("@status".into()),
                params: vec![],
            },
            input.status.to_string(),
        ),
        (
            Item {
                value: BareItem::String("content-digest".into()),
                params: vec![],
            },
            input.content_digest.to_owned(),
        ),
        (
            Item {
                value: BareItem::String("x-request-id".into()),
                params: vec![],
            },
            input.request_id.to_owned(),
        ),
    ];
    if let Some(signed) = input.request_signature {
        components.push((
            Item {
                value: BareItem::String("signature".into()),
                params: vec![
                    ("req".into(), BareItem::Boolean(true)),
                    ("key".into(), BareItem::String(signed.label.clone())),
                ],
            },
            format!(":{}:", signed.signature),
        ));
    }
    let params = vec![
        ("created".to_owned(), BareItem::Integer(input.created)),
        (
            "keyid".to_owned(),
            BareItem::String(input.key_id.to_owned()),
        ),
        (
            "alg".to_owned(),
            BareItem::String(Algorithm::EcdsaP256Sha256.as_str().to_owned()),
        ),
    ];
    let items: Vec<Item> = components.iter().map(|(item, _)| item.clone()).collect();
    let mut params_text = String::new();
    sfv::write_inner_list(&mut params_text, &items, &params);
    let lines: Vec<(String, String)> = components
        .into_iter()
        .map(|(item, value)| {
            // The component identifier as serialized: `"signature";req;key="sig1"`.
            let mut id = String::new();
            sfv::write_bare_item(&mut id, &item.value);
            sfv::write_parameters(&mut id, &item.params);
            (id, value)
        })
        .collect();
    (
        signature_base(&lines, &params_text),
        format!("{RECEIPT_LABEL}={params_text}"),
    )
}

/// Builds a signature base (RFC 9421 section 2.5): one line per covered component (its
/// serialized identifier, e.g. `"@method"` or `"signature";req;key="sig1"`, and value),
/// then the `@signature-params` line, joined by LF, no trailing newline.
pub fn signature_base(lines: &[(String, String)], params_text: &str) -> String {
    let mut base = String::new();
    for (id, value) in lines {
        base.push_str(id);
        base.push_str(": ");
        base.push_str(value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params_text);
    base
}

/// A field's value as RFC 9421 section 2.1 covers it: every field line, trimmed,
/// joined with ", ". `None` when the message has no such field.
pub fn joined_field(headers: &http::HeaderMap, name: &str) -> Option<String> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let parts: Vec<String> = values
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .collect();
    Some(parts.join(", "))
}

fn has_field(headers: &http::HeaderMap, name: &str) -> bool {
    headers.contains_key(name)
}

/// `Content-Digest` for `body` (RFC 9530): `sha-256=:<base64>:`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// Checks a `Content-Digest` field against the body: at least one algorithm we know
/// (sha-256, sha-512), and every one we know must match. Others are ignored.
pub fn check_content_digest(field: &str, body: &[u8]) -> Result<(), Rejection> {
    let members = sfv::parse_dictionary(field)
        .map_err(|e| Rejection::Malformed(format!("Content-Digest: {}", e.0)))?;
    let mut checked = 0;
    for (algorithm, member) in &members {
        let expected: Vec<u8> = match algorithm.as_str() {
            "sha-256" => Sha256::digest(body).to_vec(),
            "sha-512" => Sha512::digest(body).to_vec(),
            _ => continue,
        };
        let Member::Item(Item {
            value: BareItem::Bytes(given),
            ..
        }) = member
        else {
            return Err(Rejection::Malformed(
                "Content-Digest values must be byte sequences".into(),
            ));
        };
        if *given != expected {
            return Err(Rejection::DigestMismatch);
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(Rejection::DigestMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
