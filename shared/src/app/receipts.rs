//! Signed receipts (spec section 11, threat T08): the service signs what it answered —
//! status, `Content-Digest` of the body, request id and, for a signed request, the
//! request's own signature — with its receipt key (RFC 9421, label `receipt`), so a
//! client can later prove what the service said, to that request.

use crate::domain::signatures::{
    content_digest, receipt_base, ReceiptInput, RequestSignature, RECEIPT_LABEL,
};
use crate::domain::Timestamp;
use crate::ports::receipts::ReceiptSigner;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::{Body, Response};

/// Adds `Content-Digest`, `Signature-Input` and `Signature` (and the `x-request-id` the
/// receipt covers) to a successful response. A key that cannot sign (KMS unreachable)
/// leaves the answer unsigned and says so in the log: the work is done and billed, and
/// a client that needs the receipt reads the generation again (that answer is signed).
pub async fn sign_response(
    signer: &dyn ReceiptSigner,
    now: Timestamp,
    request_id: &str,
    request_signature: Option<&RequestSignature>,
    mut response: Response<Body>,
) -> Response<Body> {
    if !response.status().is_success() {
        return response;
    }
    let digest = content_digest(crate::http::body_bytes(response.body()));
    let key_id = signer.key_id();
    let (base, input) = receipt_base(&ReceiptInput {
        status: response.status().as_u16(),
        content_digest: &digest,
        request_id,
        request_signature,
        key_id,
        created: now.as_millis().div_euclid(1000),
    });
    let signature = match signer.sign(base.as_bytes()).await {
        Ok(signature) => signature,
        Err(error) => {
            tracing::error!(%error, "receipt not signed; the answer goes out without one");
            return response;
        }
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-digest", digest),
        ("x-request-id", request_id.to_owned()),
        ("signature-input", input),
        (
            "signature",
            format!("{RECEIPT_LABEL}=:{}:", STANDARD.encode(signature)),
        ),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}
