use super::*;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};

const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);
const NOW_S: i64 = 1_800_000_000;

fn key_id() -> KeyId {
    KeyId::new("0192aa00bb11cc22dd33ee44ff556677")
}

enum Pair {
    Ed(Ed25519KeyPair),
    P256(EcdsaKeyPair),
}

impl Pair {
    fn ed25519() -> Self {
        Self::Ed(Ed25519KeyPair::generate().unwrap())
    }

    fn p256() -> Self {
        Self::P256(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    fn registered(&self, required: bool) -> ClientSigningKey {
        let (algorithm, public) = match self {
            Self::Ed(pair) => (Algorithm::Ed25519, pair.public_key().as_ref().to_vec()),
            Self::P256(pair) => (
                Algorithm::EcdsaP256Sha256,
                pair.public_key().as_ref().to_vec(),
            ),
        };
        ClientSigningKey::new(algorithm, &STANDARD.encode(public), required, NOW).unwrap()
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Ed(pair) => pair.sign(message).as_ref().to_vec(),
            Self::P256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .to_vec(),
        }
    }
}

struct Draft {
    method: &'static str,
    path: &'static str,
    query: Option<&'static str>,
    body: Vec<u8>,
    components: Vec<&'static str>,
    params: String,
}

impl Draft {
    fn post(body: &str) -> Self {
        Self {
            method: "POST",
            path: "/v1/dietitians/d1/samples",
            query: None,
            body: body.as_bytes().to_vec(),
            components: vec!["@method", "@path", "@query", "content-digest"],
            params: format!(
                r#";created={NOW_S};keyid="{}";nonce="n0nce-abcdef";alg="ed25519""#,
                key_id()
            ),
        }
    }

    /// Headers of the draft signed by `pair` (the signer builds its base by hand, from
    /// the RFC's rules, not with the code under test).
    fn signed_headers(&self, pair: &Pair) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        let digest = format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(&self.body)));
        headers.insert("content-digest", digest.parse().unwrap());
        let mut base = String::new();
        for name in &self.components {
            let value = match *name {
                "@method" => self.method.to_owned(),
                "@path" => self.path.to_owned(),
                "@query" => format!("?{}", self.query.unwrap_or("")),
                "content-digest" => digest.clone(),
                other => panic!("{other}"),
            };
            base.push_str(&format!("\"{name}\": {value}\n"));
        }
        let list = self
            .components
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(" ");
        let params = format!("({list}){}", self.params);
        base.push_str(&format!("\"@signature-params\": {params}"));
        headers.insert("signature-input", format!("sig1={params}").parse().unwrap());
        let signature = STANDARD.encode(pair.sign(base.as_bytes()));
        headers.insert("signature", format!("sig1=:{signature}:").parse().unwrap());
        headers
    }

    fn verify(
        &self,
        headers: &http::HeaderMap,
        key: &ClientSigningKey,
    ) -> Result<Option<RequestSignature>, Rejection> {
        verify_request(
            &SignedRequest {
                method: self.method,
                path: self.path,
                query: self.query,
                headers,
                body: &self.body,
            },
            &key_id(),
            key,
            NOW,
        )
    }
}

#[test]
fn a_signed_request_verifies_and_what_is_kept_verifies_again() {
    for pair in [Pair::ed25519(), Pair::p256()] {
        let key = pair.registered(true);
        let mut draft = Draft::post(r#"{"content":"Eat more greens."}"#);
        draft.params = draft.params.replace("ed25519", key.algorithm.as_str());
        let headers = draft.signed_headers(&pair);
        let kept = draft.verify(&headers, &key).unwrap().expect("signed");
        assert_eq!(kept.nonce, "n0nce-abcdef");
        assert_eq!(kept.created, NOW_S);
        assert_eq!(kept.key_id, key_id().to_string());
        assert!(kept.signature_base.starts_with("\"@method\": POST\n\"@path\": /v1/dietitians/d1/samples\n\"@query\": ?\n\"content-digest\": sha-256=:"));
        // Anyone with the public key can check the stored signature later.
        let signature = STANDARD.decode(&kept.signature).unwrap();
        assert!(key.verify(kept.signature_base.as_bytes(), &signature));
        assert_eq!(RequestSignature::from_json(&kept.to_json()), Some(kept));
    }
}

#[test]
fn a_changed_body_path_method_or_query_is_refused() {
    let pair = Pair::ed25519();
    let key = pair.registered(false);
    let draft = Draft::post(r#"{"content":"Eat more greens."}"#);
    let headers = draft.signed_headers(&pair);
    let mut body = Draft::post(r#"{"content":"Eat more sugar."}"#);
    body.components = draft.components.clone();
    assert_eq!(body.verify(&headers, &key), Err(Rejection::DigestMismatch));
    let mut path = Draft::post(r#"{"content":"Eat more greens."}"#);
    path.path = "/v1/dietitians/d2/samples";
    assert_eq!(path.verify(&headers, &key), Err(Rejection::BadSignature));
    let mut method = Draft::post(r#"{"content":"Eat more greens."}"#);
    method.method = "PUT";
    assert_eq!(method.verify(&headers, &key), Err(Rejection::BadSignature));
    let mut query = Draft::post(r#"{"content":"Eat more greens."}"#);
    query.query = Some("x=1");
    assert_eq!(query.verify(&headers, &key), Err(Rejection::BadSignature));
    // Another key's signature over the same request.
    let other = Pair::ed25519().registered(false);
    assert_eq!(draft.verify(&headers, &other), Err(Rejection::BadSignature));
}

#[test]
fn coverage_time_nonce_and_algorithm_are_enforced() {
    let pair = Pair::ed25519();
    let key = pair.registered(true);
    type Change = Box<dyn Fn(&mut Draft)>;
    let cases: Vec<(Change, Rejection)> = vec![
        (
            Box::new(|d| d.components.retain(|c| *c != "@query")),
            Rejection::MissingComponent("@query"),
        ),
        (
            Box::new(|d| d.components.retain(|c| *c != "content-digest")),
            Rejection::MissingComponent("content-digest"),
        ),
        (
            Box::new(|d| {
                d.params = d
                    .params
                    .replace(&NOW_S.to_string(), &(NOW_S - 301).to_string())
            }),
            Rejection::Stale,
        ),
        (
            Box::new(|d| {
                d.params = d
                    .params
                    .replace(&NOW_S.to_string(), &(NOW_S + 301).to_string())
            }),
            Rejection::Stale,
        ),
        (
            Box::new(|d| d.params = d.params.replace(";nonce=\"n0nce-abcdef\"", "")),
            Rejection::Nonce("is missing: every signed request needs one"),
        ),
        (
            Box::new(|d| d.params = d.params.replace("n0nce-abcdef", "short")),
            Rejection::Nonce("must be 8 to 128 characters"),
        ),
        (
            Box::new(|d| d.params = d.params.replace("n0nce-abcdef", "n0nce abcdef")),
            Rejection::Nonce("may use letters, digits and - _ . ~ + / = only"),
        ),
        (
            Box::new(|d| d.params = d.params.replace("\"ed25519\"", "\"ecdsa-p256-sha256\"")),
            Rejection::AlgorithmMismatch,
        ),
        (
            Box::new(|d| d.params.push_str(&format!(";expires={NOW_S}"))),
            Rejection::Expired,
        ),
        (
            Box::new(|d| d.params = d.params.replace("0192aa00", "ffffffff")),
            Rejection::NoSignatureForKey,
        ),
    ];
    for (change, expected) in cases {
        let mut draft = Draft::post("{}");
        change(&mut draft);
        let headers = draft.signed_headers(&pair);
        assert_eq!(
            draft.verify(&headers, &key),
            Err(expected.clone()),
            "{expected:?}"
        );
    }
    // Within the skew both ways is fine.
    for created in [NOW_S - 300, NOW_S + 300] {
        let mut draft = Draft::post("{}");
        draft.params = draft
            .params
            .replace(&NOW_S.to_string(), &created.to_string());
        assert!(draft.verify(&draft.signed_headers(&pair), &key).is_ok());
    }
}

#[test]
fn unsigned_requests_pass_only_when_signatures_are_optional() {
    let pair = Pair::ed25519();
    let draft = Draft::post("{}");
    let empty = http::HeaderMap::new();
    assert_eq!(draft.verify(&empty, &pair.registered(false)), Ok(None));
    assert_eq!(
        draft.verify(&empty, &pair.registered(true)),
        Err(Rejection::Required)
    );
    // Half a signature is never "unsigned".
    let mut half = draft.signed_headers(&pair);
    half.remove("signature");
    assert!(matches!(
        draft.verify(&half, &pair.registered(false)),
        Err(Rejection::Malformed(_))
    ));
}

#[test]
fn a_get_without_body_needs_no_digest_and_unknown_components_are_refused() {
    let pair = Pair::ed25519();
    let key = pair.registered(true);
    let mut draft = Draft::post("");
    draft.method = "GET";
    draft.query = Some("limit=5");
    draft.components = vec!["@method", "@path", "@query"];
    assert!(draft
        .verify(&draft.signed_headers(&pair), &key)
        .unwrap()
        .is_some());
    let mut headers = draft.signed_headers(&pair);
    let input = headers["signature-input"]
        .to_str()
        .unwrap()
        .replace("\"@query\"", "\"@query\" \"@request-target\"");
    headers.insert("signature-input", input.parse().unwrap());
    assert_eq!(
        draft.verify(&headers, &key),
        Err(Rejection::UnsupportedComponent("@request-target".into()))
    );
}

#[test]
fn content_digest_follows_rfc_9530() {
    // RFC 9530 section 2 example: {"hello": "world"}
    let body = b"{\"hello\": \"world\"}";
    assert_eq!(
        content_digest(body),
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    );
    assert_eq!(check_content_digest(&content_digest(body), body), Ok(()));
    let sha512 = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
    assert_eq!(check_content_digest(sha512, body), Ok(()));
    assert_eq!(
        check_content_digest(sha512, b"{}"),
        Err(Rejection::DigestMismatch)
    );
    assert_eq!(
        check_content_digest("md5=:AAAA:", body),
        Err(Rejection::DigestMismatch)
    );
}

#[test]
fn registered_keys_are_checked_and_accept_pem() {
    let pair = Ed25519KeyPair::generate().unwrap();
    let raw = pair.public_key().as_ref().to_vec();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode([ED25519_SPKI_PREFIX, &raw].concat())
    );
    let from_pem = ClientSigningKey::new(Algorithm::Ed25519, &pem, true, NOW).unwrap();
    assert_eq!(from_pem.public_key, raw);
    let from_url =
        ClientSigningKey::new(Algorithm::Ed25519, &URL_SAFE_NO_PAD.encode(&raw), true, NOW)
            .unwrap();
    assert_eq!(from_url, from_pem);
    assert_eq!(
        ClientSigningKey::from_json(&from_url.to_json()),
        Some(from_url)
    );
    assert!(ClientSigningKey::new(
        Algorithm::EcdsaP256Sha256,
        &STANDARD.encode(&raw),
        true,
        NOW
    )
    .is_err());
    // 65 bytes that are not a point on P-256.
    let mut not_a_point = vec![4u8];
    not_a_point.extend([7u8; 64]);
    assert!(ClientSigningKey::new(
        Algorithm::EcdsaP256Sha256,
        &STANDARD.encode(&not_a_point),
        true,
        NOW
    )
    .is_err());
    assert!(ClientSigningKey::new(Algorithm::Ed25519, "not base64!", true, NOW).is_err());
}
