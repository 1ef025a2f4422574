//! Issue 18, signed requests (spec section 11; threats T04, T08): a tenant registers a
//! public key for an API key; requests signed with HTTP Message Signatures (RFC 9421)
//! and Content-Digest (RFC 9530) are verified, their nonce accepted once, and the
//! signature kept with the sample or generation they created.
//!
//! The requests are signed by `docs/examples/signed_client.py`, which uses an independent
//! implementation (PyPI `http-message-signatures`), so our verifier is checked against
//! someone else's signer, and the documented client example is checked with it.

use nutripro_shared::domain::admin::Role;
use nutripro_shared::domain::signatures::{Algorithm, ClientSigningKey};
use nutripro_shared::domain::Timestamp;
use nutripro_tests::{repo_root, LocalStack};
use serde_json::{json, Value};
use std::path::Path;

fn python() -> String {
    std::env::var("NUTRIPRO_TOOLS_PYTHON").unwrap_or_else(|_| {
        panic!("NUTRIPRO_TOOLS_PYTHON is not set: this test needs the tools virtualenv (http-message-signatures) that scripts/test provides")
    })
}

fn client(args: &[&str]) -> Value {
    let output = std::process::Command::new(python())
        .arg(repo_root().join("docs/examples/signed_client.py"))
        .args(args)
        .output()
        .expect("run docs/examples/signed_client.py");
    assert!(
        output.status.success(),
        "signed_client.py {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the client prints JSON")
}

/// A key pair made by the independent client; its public half as the API wants it.
fn keygen(dir: &Path, name: &str, algorithm: &str) -> (String, String) {
    let path = dir.join(name);
    let printed = client(&[
        "keygen",
        "--out",
        path.to_str().unwrap(),
        "--algorithm",
        algorithm,
    ]);
    (
        path.to_str().unwrap().to_owned(),
        printed["public_key"].as_str().unwrap().to_owned(),
    )
}

#[derive(Clone)]
struct Signer<'a> {
    base_url: String,
    api_key: &'a str,
    private_key: &'a str,
}

impl Signer<'_> {
    fn send(&self, method: &str, path: &str, body: Option<&Value>, extra: &[&str]) -> Value {
        let body = body.map(Value::to_string);
        let mut args = vec![
            "send",
            "--base-url",
            &self.base_url,
            "--api-key",
            self.api_key,
            "--private-key",
            self.private_key,
        ];
        if let Some(body) = &body {
            args.extend(["--json", body]);
        }
        args.extend_from_slice(extra);
        args.extend([method, path]);
        client(&args)
    }
}

fn problem(result: &Value) -> Value {
    assert_eq!(result["status"], 401, "{result}");
    let body: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["type"], "https://nutripro.dev/problems/invalid-signature",
        "{body}"
    );
    body
}

fn body(result: &Value) -> Value {
    serde_json::from_str(result["body"].as_str().unwrap()).unwrap()
}

// The client runs as a blocking child process: the gateway serves on the other worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the tools virtualenv (PyPI http-message-signatures): run scripts/test"]
async fn requests_signed_by_an_independent_implementation_are_verified_kept_and_used_once() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Signed Clinic").await;
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    let keys = tempfile::tempdir().unwrap();
    let (private_key, public_key) = keygen(keys.path(), "ed.pem", "ed25519");
    let register = |algorithm: &'static str, public_key: String, required: bool| {
        let stack = &stack;
        let (admin, tenant, key) = (&admin, &boot.tenant_id, &boot.key_id);
        async move {
            stack
                .call(
                    "PUT",
                    &format!("/admin/tenants/{tenant}/keys/{key}/signing-key"),
                    admin,
                    Some(&json!({"algorithm": algorithm, "public_key": public_key, "signature_required": required})),
                    &[],
                )
                .await
        }
    };
    let registered = register("ed25519", public_key.clone(), true).await;
    assert_eq!(registered.status, 200, "{}", registered.body);
    let view = registered.json();
    assert_eq!(view["signing_key"]["algorithm"], "ed25519");
    assert_eq!(view["signing_key"]["signature_required"], true);
    assert_eq!(view["signing_key"]["public_key"], public_key);
    let listed = stack
        .get_as(&format!("/admin/tenants/{}/keys", boot.tenant_id), &admin)
        .await;
    assert_eq!(
        listed.json()["items"][0]["signing_key"]["fingerprint"],
        view["signing_key"]["fingerprint"]
    );

    // Required: an unsigned request is refused before anything happens (beyond the
    // authorizer's sampled last-use time, written by the first use of the key).
    stack.get_as("/v1/me", &boot.api_key).await;
    let before = stack.state_snapshot();
    let unsigned = stack
        .call(
            "PUT",
            "/v1/dietitians/dr-smith/consent",
            &boot.api_key,
            Some(&json!({"granted": true})),
            &[],
        )
        .await;
    let refused = unsigned.assert_problem(401);
    assert_eq!(refused["reason"], "signature_required");
    assert_eq!(
        stack.state_snapshot(),
        before,
        "an unsigned request changed nothing"
    );

    let signer = Signer {
        base_url: stack.gateway.base_url(),
        api_key: &boot.api_key,
        private_key: &private_key,
    };
    let consent = signer.send(
        "PUT",
        "/v1/dietitians/dr-smith/consent",
        Some(&json!({"granted": true})),
        &[],
    );
    assert_eq!(consent["status"], 200, "{consent}");

    // A signed sample keeps its signature, and the kept signature verifies again with
    // the registered key: the tenant cannot later deny having sent it.
    let sample = json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "content": "Fill half the plate with vegetables, friends."});
    let created = signer.send("POST", "/v1/samples", Some(&sample), &["--verify-receipt"]);
    assert_eq!(created["status"], 201, "{created}");
    // The answer is the service's receipt for this signed upload, verified by the
    // independent implementation with the published key.
    assert_eq!(
        receipt_covers(&created),
        RECEIPT_OF_SIGNED_REQUEST,
        "{created}"
    );
    let kept = body(&created)["request_signature"].clone();
    assert_eq!(kept["key_id"], boot.key_id);
    assert_eq!(kept["algorithm"], "ed25519");
    assert!(kept["signature_base"]
        .as_str()
        .unwrap()
        .contains("\"content-digest\": sha-256=:"));
    let registered_key =
        ClientSigningKey::new(Algorithm::Ed25519, &public_key, true, Timestamp::now()).unwrap();
    let sample_id = body(&created)["id"].as_str().unwrap().to_owned();
    let read = signer.send(
        "GET",
        &format!("/v1/samples/{sample_id}"),
        None,
        &["--verify-receipt"],
    );
    assert_eq!(read["status"], 200, "{read}");
    assert_eq!(
        receipt_covers(&read),
        RECEIPT_OF_SIGNED_REQUEST,
        "a read sample is receipted too: {read}"
    );
    let stored: nutripro_shared::domain::signatures::RequestSignature =
        serde_json::from_value(body(&read)["request_signature"].clone()).unwrap();
    assert_eq!(serde_json::to_value(&stored).unwrap(), kept);
    assert!(stored.verifies_with(&registered_key));

    // The same signed request twice: the second is a replay.
    let before = stack.state_snapshot();
    let twice = signer.send("POST", "/v1/samples", Some(&sample), &["--repeat", "2"]);
    assert_eq!(twice[0]["status"], 201, "{twice}");
    assert_eq!(problem(&twice[1])["reason"], "replayed");
    let after_replay = stack.state_snapshot();
    assert_ne!(after_replay, before, "the first one was stored");

    // A body changed after signing, a clock six minutes off, another key's signature:
    // refused, nothing stored.
    let tampered = signer.send("POST", "/v1/samples", Some(&sample), &["--tamper-body", &json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "content": "Skip breakfast, friends."}).to_string()]);
    assert_eq!(problem(&tampered)["reason"], "digest_mismatch");
    let stale = signer.send(
        "POST",
        "/v1/samples",
        Some(&sample),
        &["--created-offset", "-360"],
    );
    assert_eq!(problem(&stale)["reason"], "stale");
    let (other_key, _) = keygen(keys.path(), "other.pem", "ed25519");
    let forged = Signer {
        private_key: &other_key,
        ..signer.clone()
    }
    .send("POST", "/v1/samples", Some(&sample), &[]);
    assert_eq!(problem(&forged)["reason"], "bad_signature");
    assert_eq!(
        stack.state_snapshot(),
        after_replay,
        "refused requests changed nothing"
    );

    // Query parameters, sent sorted as documented, are covered by @query.
    let listed = signer.send(
        "GET",
        "/v1/samples",
        None,
        &["--param", "limit=5", "--param", "dietitian_id=dr-smith"],
    );
    assert_eq!(listed["status"], 200, "{listed}");
    assert_eq!(body(&listed)["items"].as_array().unwrap().len(), 2);

    // A signed generation keeps its signature under the record's seal.
    let generation = signer.send(
        "POST",
        "/v1/generations",
        Some(&json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "input": {"topic": "breakfast"}})),
        &[],
    );
    assert_eq!(generation["status"], 201, "{generation}");
    let generation_id = body(&generation)["id"].as_str().unwrap().to_owned();
    // Its answer is a receipt the independent implementation verifies with the published
    // key: status, body digest, request id and this request's own signature.
    let receipted = signer.send(
        "POST",
        "/v1/generations",
        Some(&json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "input": {"topic": "lunch"}})),
        &["--verify-receipt"],
    );
    assert_eq!(receipted["status"], 201, "{receipted}");
    assert_eq!(
        receipt_covers(&receipted),
        RECEIPT_OF_SIGNED_REQUEST,
        "{receipted}"
    );
    let receipted_id = body(&receipted)["id"].as_str().unwrap().to_owned();
    let read = signer.send(
        "GET",
        &format!("/v1/generations/{receipted_id}"),
        None,
        &["--verify-receipt"],
    );
    assert_eq!(
        read["receipt"][0]["label"], "receipt",
        "a read generation is receipted too: {read}"
    );
    // An answer changed on the way does not verify.
    let changed = signer.send(
        "GET",
        &format!("/v1/generations/{receipted_id}"),
        None,
        &["--verify-receipt", "--tamper-response"],
    );
    assert_eq!(changed["receipt"], Value::Null, "{changed}");
    assert!(
        changed["receipt_error"]
            .as_str()
            .unwrap()
            .contains("Digest"),
        "{changed}"
    );
    let kept: nutripro_shared::domain::signatures::RequestSignature =
        serde_json::from_value(body(&generation)["request_signature"].clone()).unwrap();
    assert!(kept.verifies_with(&registered_key));
    assert!(kept.signature_base.contains("\"@path\": /v1/generations"));
    // Dropping the kept signature from the stored record breaks its seal.
    let db = rusqlite::Connection::open(stack.data_dir.path().join("nutripro.sqlite3")).unwrap();
    db.execute(
        "UPDATE generations SET request_signature = NULL WHERE id = ?1",
        [&generation_id],
    )
    .unwrap();
    let withheld = signer.send(
        "GET",
        &format!("/v1/generations/{generation_id}"),
        None,
        &[],
    );
    assert_eq!(withheld["status"], 500, "{withheld}");
    assert!(withheld["body"]
        .as_str()
        .unwrap()
        .contains("integrity-check-failed"));

    // An ECDSA P-256 key works the same; removing the key lets unsigned requests in.
    let (p256_private, p256_public) = keygen(keys.path(), "p256.pem", "ecdsa-p256-sha256");
    assert_eq!(
        register("ecdsa-p256-sha256", p256_public, false)
            .await
            .status,
        200
    );
    let p256 = Signer {
        private_key: &p256_private,
        ..signer.clone()
    }
    .send("GET", "/v1/dietitians/dr-smith/consent", None, &[]);
    assert_eq!(p256["status"], 200, "{p256}");
    let optional = stack
        .get_as("/v1/dietitians/dr-smith/consent", &boot.api_key)
        .await;
    assert_eq!(optional.status, 200, "not required: unsigned passes");
    let removed = stack
        .call(
            "DELETE",
            &format!(
                "/admin/tenants/{}/keys/{}/signing-key",
                boot.tenant_id, boot.key_id
            ),
            &admin,
            None,
            &[],
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    let listed = stack
        .get_as(&format!("/admin/tenants/{}/keys", boot.tenant_id), &admin)
        .await;
    assert_eq!(listed.json()["items"][0]["signing_key"], Value::Null);
    let actions: Vec<String> = stack
        .audit_entries()
        .await
        .iter()
        .map(|e| e.draft.action.clone())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "key.signing_key.set")
            .count(),
        2
    );
    assert!(actions.contains(&"key.signing_key.remove".to_owned()));
}

#[tokio::test]
async fn a_registered_key_is_checked_and_only_managers_may_set_it() {
    let stack = LocalStack::start().await;
    let boot = stack.bootstrap("Key Checks").await;
    let path = format!(
        "/admin/tenants/{}/keys/{}/signing-key",
        boot.tenant_id, boot.key_id
    );
    let admin = stack.admin_token(Role::PlatformAdmin, None);
    let before = stack.state_snapshot();
    for body in [
        json!({"algorithm": "rsa-pss-sha512", "public_key": "AAAA"}),
        json!({"algorithm": "ed25519", "public_key": "too short"}),
        json!({"algorithm": "ecdsa-p256-sha256", "public_key": format!("BA{}", "A".repeat(85))}),
        json!({"algorithm": "ed25519"}),
    ] {
        let refused = stack.call("PUT", &path, &admin, Some(&body), &[]).await;
        refused.assert_problem(422);
    }
    let viewer = stack.admin_token(
        Role::TenantManager,
        Some("0193a0e1a1b27c3d8e9f0a1b2c3d4e5f"),
    );
    let other = stack
        .call("PUT", &path, &viewer, Some(&json!({"algorithm": "ed25519", "public_key": "I8-lFi8rM6iBRIcL_Yzrnvy2RQ9yw9HNurRqtt6X7U4"})), &[])
        .await;
    assert_eq!(
        other.status, 404,
        "another tenant's manager: {}",
        other.body
    );
    assert_eq!(stack.state_snapshot(), before);
    // A key the API cannot use for anything else: revoked keys get no signing key.
    let revoked = stack
        .call(
            "DELETE",
            &format!("/admin/tenants/{}/keys/{}", boot.tenant_id, boot.key_id),
            &admin,
            None,
            &[],
        )
        .await;
    assert_eq!(revoked.status, 204);
    let refused = stack
        .call("PUT", &path, &admin, Some(&json!({"algorithm": "ed25519", "public_key": "I8-lFi8rM6iBRIcL_Yzrnvy2RQ9yw9HNurRqtt6X7U4"})), &[])
        .await;
    refused.assert_problem(409);
}

/// What a receipt for a signed request covers: status, body digest, request id and the
/// request's own signature (spec section 11).
const RECEIPT_OF_SIGNED_REQUEST: [&str; 5] = [
    "\"@status\"",
    "\"content-digest\"",
    "\"x-request-id\"",
    "\"signature\";req;key=\"sig1\"",
    "\"@signature-params\"",
];

/// The components of the answer's receipt as the independent implementation verified
/// them (empty when there was none or it did not verify).
fn receipt_covers(answer: &Value) -> Vec<String> {
    let receipt = &answer["receipt"][0];
    if receipt["label"] != "receipt" {
        return Vec::new();
    }
    receipt["covered"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect()
}
