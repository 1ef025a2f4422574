//! The cost of checking a signed request (issue 18, target < 200 µs for Ed25519 and the
//! digest of a 10 KiB body): what `Call::admit` adds for a key with a registered signing
//! key — parse Signature-Input and Signature (RFC 8941), rebuild the signature base
//! (RFC 9421), verify the signature, and hash the body for Content-Digest (RFC 9530).
//! The nonce's one conditional write is a store round trip, measured apart (see
//! docs/performance.md). Bounded: `--requests` (default 20,000) per algorithm; prints
//! p50/p99/max per request.
//!   signature-cost [--requests N] [--body-bytes N]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use nutripro_shared::domain::signatures::{
    content_digest, signature_base, verify_request, Algorithm, ClientSigningKey, SignedRequest,
};
use nutripro_shared::domain::{KeyId, Timestamp};
use std::time::{Duration, Instant};

const KEY_ID: &str = "0193a0e2b7c87f1aa0e5c7d3f4a5b6c7";

fn signed_headers(
    algorithm: Algorithm,
    sign: &dyn Fn(&[u8]) -> Vec<u8>,
    body: &[u8],
    now: i64,
) -> http::HeaderMap {
    let digest = content_digest(body);
    let params = format!(
        r#"("@method" "@path" "@query" "content-digest");created={now};keyid="{KEY_ID}";alg="{}";nonce="bench-nonce-0001""#,
        algorithm.as_str()
    );
    let lines = [
        ("\"@method\"".to_owned(), "POST".to_owned()),
        ("\"@path\"".to_owned(), "/v1/generations".to_owned()),
        ("\"@query\"".to_owned(), "?".to_owned()),
        ("\"content-digest\"".to_owned(), digest.clone()),
    ];
    let base = signature_base(&lines, &params);
    let mut headers = http::HeaderMap::new();
    headers.insert("content-digest", digest.parse().unwrap());
    headers.insert("signature-input", format!("sig1={params}").parse().unwrap());
    let signature = STANDARD.encode(sign(base.as_bytes()));
    headers.insert("signature", format!("sig1=:{signature}:").parse().unwrap());
    headers
}

fn measure(
    name: &str,
    key: &ClientSigningKey,
    headers: &http::HeaderMap,
    body: &[u8],
    requests: usize,
    now: Timestamp,
) {
    let key_id = KeyId::new(KEY_ID);
    let request = SignedRequest {
        method: "POST",
        path: "/v1/generations",
        query: None,
        headers,
        body,
    };
    for _ in 0..1_000 {
        assert!(verify_request(&request, &key_id, key, now)
            .unwrap()
            .is_some());
    }
    let mut samples: Vec<Duration> = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        let verified = verify_request(&request, &key_id, key, now);
        samples.push(started.elapsed());
        assert!(verified.is_ok());
    }
    let mut digest_samples: Vec<Duration> = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        std::hint::black_box(content_digest(std::hint::black_box(body)));
        digest_samples.push(started.elapsed());
    }
    let p = |samples: &mut Vec<Duration>, q: f64| {
        nutripro_bench::percentile(samples, q).as_nanos() as f64 / 1_000.0
    };
    println!(
        "{name} verify + digest of {} bytes ({requests} requests): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (of which SHA-256 of the body p50 {:.1} µs)",
        body.len(),
        p(&mut samples, 50.0),
        p(&mut samples, 99.0),
        p(&mut samples, 100.0),
        p(&mut digest_samples, 50.0),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let requests: usize = nutripro_bench::flag(&args, "--requests", 20_000);
    let body_bytes: usize = nutripro_bench::flag(&args, "--body-bytes", 10 * 1024);
    assert!(
        (100..=1_000_000).contains(&requests),
        "--requests must be 100..=1000000"
    );
    assert!(body_bytes <= 1 << 20, "--body-bytes at most 1 MiB");
    let body: Vec<u8> = (0..body_bytes).map(|i| b'a' + (i % 26) as u8).collect();
    let now = Timestamp::now();
    let seconds = now.as_millis() / 1000;

    let ed = Ed25519KeyPair::generate().unwrap();
    let ed_key = ClientSigningKey::new(
        Algorithm::Ed25519,
        &STANDARD.encode(ed.public_key().as_ref()),
        true,
        now,
    )
    .unwrap();
    let headers = signed_headers(
        Algorithm::Ed25519,
        &|m| ed.sign(m).as_ref().to_vec(),
        &body,
        seconds,
    );
    measure("ed25519", &ed_key, &headers, &body, requests, now);

    let p256 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let p256_key = ClientSigningKey::new(
        Algorithm::EcdsaP256Sha256,
        &STANDARD.encode(p256.public_key().as_ref()),
        true,
        now,
    )
    .unwrap();
    let rng = SystemRandom::new();
    let headers = signed_headers(
        Algorithm::EcdsaP256Sha256,
        &|m| p256.sign(&rng, m).unwrap().as_ref().to_vec(),
        &body,
        seconds,
    );
    measure(
        "ecdsa-p256-sha256",
        &p256_key,
        &headers,
        &body,
        requests,
        now,
    );
    receipts(requests, &body);
}

/// A receipt on an answer of the same size: its Content-Digest, the signature base and
/// an ECDSA P-256 signature with the local key (in AWS the signature is a KMS `Sign`
/// round trip instead).
fn receipts(requests: usize, body: &[u8]) {
    use nutripro_shared::app::receipts::sign_response;
    use nutripro_shared::ports::receipts::LocalReceiptKey;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let key = LocalReceiptKey::ephemeral();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let mut samples = Vec::with_capacity(requests);
    for n in 0..requests + 1_000 {
        let response = http::Response::builder()
            .status(201)
            .body(lambda_http::Body::Text(text.clone()))
            .unwrap();
        let started = Instant::now();
        let signed = runtime.block_on(sign_response(
            &key,
            Timestamp::now(),
            "req-1",
            None,
            response,
        ));
        if n >= 1_000 {
            samples.push(started.elapsed());
        }
        assert!(signed.headers().contains_key("signature"));
    }
    let mut p = |q: f64| nutripro_bench::percentile(&mut samples, q).as_nanos() as f64 / 1_000.0;
    let (p50, p99) = (p(50.0), p(99.0));
    println!(
        "receipt (local ecdsa-p256-sha256 key) on a {} byte answer ({requests} answers): p50 {p50:.1} µs, p99 {p99:.1} µs",
        body.len(),
    );
}
