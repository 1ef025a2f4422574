//! Content end to end over the local gateway: consent → samples → generations, the
//! consent gate, validation, idempotency, erasure, and the threat rows API1 (tenant
//! isolation, 404 not 403), T14 (slow upstream → 504 in time, nothing stored) and T05
//! (a tampered stored generation is detected).

use nutripro_shared::domain::safety::DEFAULT_DISCLAIMER;
use nutripro_tests::{FakeOpenAi, LocalStack, FAKE_COMPLETION};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn tenant(stack: &LocalStack, name: &str) -> String {
    stack.bootstrap(name).await.api_key
}

async fn consent(stack: &LocalStack, key: &str, dietitian: &str, granted: bool) {
    let response = stack
        .call(
            "PUT",
            &format!("/v1/dietitians/{dietitian}/consent"),
            key,
            Some(&json!({"granted": granted})),
            &[],
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
}

async fn upload(
    stack: &LocalStack,
    key: &str,
    dietitian: &str,
    kind: &str,
    content: &str,
) -> Value {
    let body = json!({"dietitian_id": dietitian, "kind": kind, "title": "From my blog", "content": content});
    let response = stack
        .call("POST", "/v1/samples", key, Some(&body), &[])
        .await;
    assert_eq!(response.status, 201, "{}", response.body);
    response.json()
}

fn generation_body(dietitian: &str) -> Value {
    json!({"dietitian_id": dietitian, "kind": "diet_introduction", "input": {"client": "Ann", "goal": "more energy"}})
}

#[tokio::test]
async fn consent_to_sample_to_generation() {
    let stack = LocalStack::start().await;
    let key = tenant(&stack, "Acme").await;
    consent(&stack, &key, "dr-smith", true).await;
    let recorded = stack
        .get_as("/v1/dietitians/dr-smith/consent", &key)
        .await
        .json();
    assert_eq!(recorded["granted"], true);

    let older = upload(
        &stack,
        &key,
        "dr-smith",
        "diet_introduction",
        "Welcome! Small steps, every day.",
    )
    .await;
    let newer = upload(
        &stack,
        &key,
        "dr-smith",
        "diet_introduction",
        "Hello friend, let's eat the rainbow.",
    )
    .await;
    upload(
        &stack,
        &key,
        "dr-smith",
        "nutrition_tips",
        "Drink water first thing.",
    )
    .await;
    let got = stack
        .get_as(
            &format!("/v1/samples/{}", older["id"].as_str().unwrap()),
            &key,
        )
        .await;
    assert_eq!(got.json(), older);

    let created = stack
        .call(
            "POST",
            "/v1/generations",
            &key,
            Some(&generation_body("dr-smith")),
            &[],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let generation = created.json();
    assert_eq!(generation["status"], "succeeded");
    assert_eq!(generation["kind"], "diet_introduction");
    assert!(
        generation["model"]
            .as_str()
            .unwrap()
            .contains("no LLM was called"),
        "offline is labelled"
    );
    // The composer wrote the input's facts (generation_body: Ann, more energy).
    let content = generation["content"].as_str().unwrap();
    assert!(
        content.contains("Ann") && content.contains("more energy"),
        "{content}"
    );
    assert_eq!(
        generation["style"]["profile_samples"], 3,
        "two samples of the kind are too few for its own profile: the overall one"
    );
    assert_eq!(
        generation["sample_ids"],
        json!([newer["id"], older["id"]]),
        "the most recent samples of the kind"
    );
    let usage = &generation["usage"];
    assert_eq!(
        usage["total_tokens"],
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    assert!(generation["cost"]["amount_micros"].as_i64().unwrap() > 0);
    assert_eq!(generation["cost"]["currency"], "USD");

    let id = generation["id"].as_str().unwrap();
    assert_eq!(
        stack
            .get_as(&format!("/v1/generations/{id}"), &key)
            .await
            .json(),
        generation
    );
    let listed = stack
        .get_as("/v1/generations?dietitian_id=dr-smith", &key)
        .await
        .json();
    assert_eq!(listed["items"], json!([generation]));
    let samples = stack
        .get_as(
            "/v1/samples?dietitian_id=dr-smith&kind=diet_introduction&limit=1",
            &key,
        )
        .await
        .json();
    assert_eq!(samples["items"], json!([newer]));
    assert!(samples["next_cursor"].is_string());
}

#[tokio::test]
async fn explicit_sample_ids_are_the_style_examples() {
    let stack = LocalStack::start().await;
    let key = tenant(&stack, "Acme").await;
    consent(&stack, &key, "dr-smith", true).await;
    let chosen = upload(
        &stack,
        &key,
        "dr-smith",
        "nutrition_tips",
        "Tip: breakfast with protein.",
    )
    .await;
    upload(
        &stack,
        &key,
        "dr-smith",
        "diet_introduction",
        "Newest intro",
    )
    .await;
    let mut body = generation_body("dr-smith");
    body["sample_ids"] = json!([chosen["id"]]);
    let generation = stack
        .call("POST", "/v1/generations", &key, Some(&body), &[])
        .await
        .json();
    assert_eq!(generation["sample_ids"], json!([chosen["id"]]));
}

/// Spec section 3: no recorded consent (or a withdrawn one) → 403 consent-required.
#[tokio::test]
async fn samples_and_generations_need_consent() {
    let stack = LocalStack::start().await;
    let key = tenant(&stack, "Acme").await;
    let sample =
        json!({"dietitian_id": "dr-new", "kind": "nutrition_tips", "content": "Eat greens."});
    for _ in 0..2 {
        let response = stack
            .call("POST", "/v1/samples", &key, Some(&sample), &[])
            .await;
        assert_eq!(
            response.assert_problem(403)["type"],
            "https://nutripro.dev/problems/consent-required"
        );
        let response = stack
            .call(
                "POST",
                "/v1/generations",
                &key,
                Some(&generation_body("dr-new")),
                &[],
            )
            .await;
        assert_eq!(
            response.assert_problem(403)["type"],
            "https://nutripro.dev/problems/consent-required"
        );
        consent(&stack, &key, "dr-new", false).await; // a withdrawal is no consent either
    }
    consent(&stack, &key, "dr-new", true).await;
    assert_eq!(
        stack
            .call("POST", "/v1/samples", &key, Some(&sample), &[])
            .await
            .status,
        201
    );
    assert!(
        stack
            .get_as("/v1/samples?dietitian_id=dr-new", &key)
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .len()
            == 1
    );
}

/// Bad input gets a clear problem and changes nothing.
#[tokio::test]
async fn bad_bodies_get_problems_and_store_nothing() {
    let stack = LocalStack::start().await;
    let key = tenant(&stack, "Acme").await;
    consent(&stack, &key, "dr-smith", true).await;
    let good =
        json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "content": "Eat greens."});
    let cases: Vec<(Value, u16)> = vec![
        (
            json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "content": "x", "admin": true}),
            422,
        ),
        (
            json!({"dietitian_id": "dr-smith", "kind": "poem", "content": "x"}),
            422,
        ),
        (
            json!({"dietitian_id": "dr/../smith", "kind": "nutrition_tips", "content": "x"}),
            422,
        ),
        (
            json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "content": "   "}),
            422,
        ),
        (
            json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "content": "x".repeat(20_001)}),
            422,
        ),
        (
            json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "content": "x".repeat(100_000)}),
            413,
        ),
    ];
    for (body, status) in cases {
        stack
            .call("POST", "/v1/samples", &key, Some(&body), &[])
            .await
            .assert_problem(status);
    }
    let text = stack
        .request(
            "POST",
            "/v1/samples",
            &[
                ("authorization", &format!("Bearer {key}")),
                ("content-type", "text/plain"),
            ],
            Some(&good.to_string()),
        )
        .await;
    text.assert_problem(415);
    let generations: Vec<Value> = vec![
        json!({"dietitian_id": "dr-smith", "kind": "diet_introduction", "input": {}, "max_tokens": 0}),
        json!({"dietitian_id": "dr-smith", "kind": "diet_introduction", "input": {}, "max_tokens": 5000}),
        json!({"dietitian_id": "dr-smith", "kind": "diet_introduction", "input": "not an object"}),
        json!({"dietitian_id": "dr-smith", "kind": "diet_introduction", "input": {}, "sample_ids": []}),
        json!({"dietitian_id": "dr-smith", "kind": "diet_introduction", "input": {"big": "x".repeat(9000)}}),
    ];
    for body in generations {
        stack
            .call("POST", "/v1/generations", &key, Some(&body), &[])
            .await
            .assert_problem(422);
    }
    stack.get_as("/v1/samples", &key).await.assert_problem(422);
    stack
        .get_as("/v1/samples?dietitian_id=dr-smith&limit=0", &key)
        .await
        .assert_problem(422);
    stack
        .get_as("/v1/samples?dietitian_id=dr-smith&cursor=%%%", &key)
        .await
        .assert_problem(422);
    stack
        .get_as("/v1/samples/not-an-id", &key)
        .await
        .assert_problem(404);
    let listed = stack
        .get_as("/v1/samples?dietitian_id=dr-smith", &key)
        .await
        .json();
    assert_eq!(listed["items"], json!([]), "nothing was stored");
    assert_eq!(
        stack
            .get_as("/v1/generations?dietitian_id=dr-smith", &key)
            .await
            .json()["items"],
        json!([])
    );
}

/// OWASP API1: tenant B cannot read, list, delete or generate from tenant A's samples,
/// generations or dietitians — it sees 404s and empty lists, never a 403.
#[tokio::test]
async fn tenants_cannot_reach_each_others_content() {
    let stack = LocalStack::start().await;
    let a = tenant(&stack, "Tenant A").await;
    let b = tenant(&stack, "Tenant B").await;
    consent(&stack, &a, "dr-shared-name", true).await;
    let sample = upload(
        &stack,
        &a,
        "dr-shared-name",
        "diet_introduction",
        "A's private writing",
    )
    .await;
    let generation = stack
        .call(
            "POST",
            "/v1/generations",
            &a,
            Some(&generation_body("dr-shared-name")),
            &[],
        )
        .await
        .json();
    let sample_path = format!("/v1/samples/{}", sample["id"].as_str().unwrap());
    let generation_path = format!("/v1/generations/{}", generation["id"].as_str().unwrap());

    stack.get_as(&sample_path, &b).await.assert_problem(404);
    stack
        .call("DELETE", &sample_path, &b, None, &[])
        .await
        .assert_problem(404);
    stack.get_as(&generation_path, &b).await.assert_problem(404);
    stack
        .get_as("/v1/dietitians/dr-shared-name/consent", &b)
        .await
        .assert_problem(404);
    for list in [
        "/v1/samples?dietitian_id=dr-shared-name",
        "/v1/generations?dietitian_id=dr-shared-name",
    ] {
        assert_eq!(stack.get_as(list, &b).await.json()["items"], json!([]));
    }
    // B records its own consent for the same dietitian id, then tries A's sample ids.
    consent(&stack, &b, "dr-shared-name", true).await;
    let mut steal = generation_body("dr-shared-name");
    steal["sample_ids"] = json!([sample["id"]]);
    stack
        .call("POST", "/v1/generations", &b, Some(&steal), &[])
        .await
        .assert_problem(404);
    // B erasing "its" dietitian leaves A's untouched.
    assert_eq!(
        stack
            .call("DELETE", "/v1/dietitians/dr-shared-name", &b, None, &[])
            .await
            .status,
        204
    );
    assert_eq!(stack.get_as(&sample_path, &a).await.status, 200);
    assert_eq!(stack.get_as(&generation_path, &a).await.status, 200);
    assert_eq!(
        stack
            .get_as("/v1/dietitians/dr-shared-name/consent", &a)
            .await
            .json()["granted"],
        true
    );
}

#[tokio::test]
async fn erasure_removes_everything_about_the_dietitian() {
    let stack = LocalStack::start().await;
    let key = tenant(&stack, "Acme").await;
    consent(&stack, &key, "dr-gone", true).await;
    consent(&stack, &key, "dr-stays", true).await;
    let sample = upload(
        &stack,
        &key,
        "dr-gone",
        "diet_introduction",
        "To be forgotten",
    )
    .await;
    let kept = upload(&stack, &key, "dr-stays", "diet_introduction", "Stays").await;
    let generation = stack
        .call(
            "POST",
            "/v1/generations",
            &key,
            Some(&generation_body("dr-gone")),
            &[],
        )
        .await
        .json();

    let erased = stack
        .call("DELETE", "/v1/dietitians/dr-gone", &key, None, &[])
        .await;
    assert_eq!(erased.status, 204);
    stack
        .get_as(
            &format!("/v1/samples/{}", sample["id"].as_str().unwrap()),
            &key,
        )
        .await
        .assert_problem(404);
    stack
        .get_as(
            &format!("/v1/generations/{}", generation["id"].as_str().unwrap()),
            &key,
        )
        .await
        .assert_problem(404);
    stack
        .get_as("/v1/dietitians/dr-gone/consent", &key)
        .await
        .assert_problem(404);
    stack
        .call(
            "POST",
            "/v1/generations",
            &key,
            Some(&generation_body("dr-gone")),
            &[],
        )
        .await
        .assert_problem(403);
    assert_eq!(
        stack
            .get_as(
                &format!("/v1/samples/{}", kept["id"].as_str().unwrap()),
                &key
            )
            .await
            .status,
        200
    );
    assert_eq!(
        stack
            .call("DELETE", "/v1/dietitians/dr-gone", &key, None, &[])
            .await
            .status,
        204,
        "idempotent"
    );
}

/// Spec section 3: same key + same body → the stored result, one model call; same key +
/// other body → 422; a concurrent duplicate → 409.
#[tokio::test]
async fn idempotency_keys_replay_reject_and_block_duplicates() {
    let fake = FakeOpenAi::start(200, Duration::from_millis(1500)).await;
    let stack = LocalStack::start_with(fake.llm("sk-test", Duration::from_secs(10))).await;
    let key = tenant(&stack, "Acme").await;
    consent(&stack, &key, "dr-smith", true).await;
    let body = generation_body("dr-smith");
    let header = [("idempotency-key", "order-42")];

    let (first, duplicate) = tokio::join!(
        stack.call("POST", "/v1/generations", &key, Some(&body), &header),
        async {
            // The duplicate goes once the first has reached the model (so it holds the
            // key), not after a fixed delay a loaded machine could outrun; bounded wait.
            for _ in 0..500 {
                if fake.request_count() > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            stack
                .call("POST", "/v1/generations", &key, Some(&body), &header)
                .await
        }
    );
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(
        duplicate.assert_problem(409)["type"],
        "https://nutripro.dev/problems/idempotency-in-progress"
    );

    let replay = stack
        .call("POST", "/v1/generations", &key, Some(&body), &header)
        .await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.json(), first.json(), "the stored result");
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(fake.request_count(), 1, "the model was called once");
    let listed = stack
        .get_as("/v1/generations?dietitian_id=dr-smith", &key)
        .await
        .json();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "stored (and billed) once"
    );

    let mut other = body.clone();
    other["input"]["client"] = json!("Bob");
    let reused = stack
        .call("POST", "/v1/generations", &key, Some(&other), &header)
        .await;
    assert_eq!(
        reused.assert_problem(422)["type"],
        "https://nutripro.dev/problems/idempotency-key-reused"
    );

    let sample = json!({"dietitian_id": "dr-smith", "kind": "nutrition_tips", "content": "Tip"});
    let s1 = stack
        .call(
            "POST",
            "/v1/samples",
            &key,
            Some(&sample),
            &[("idempotency-key", "s-1")],
        )
        .await;
    let s2 = stack
        .call(
            "POST",
            "/v1/samples",
            &key,
            Some(&sample),
            &[("idempotency-key", "s-1")],
        )
        .await;
    assert_eq!((s1.status, s2.json()), (201, s1.json()));
    let bad_key = stack
        .call(
            "POST",
            "/v1/samples",
            &key,
            Some(&sample),
            &[("idempotency-key", "has space")],
        )
        .await;
    bad_key.assert_problem(422);
}

/// T14 and spec section 3: a slow model ends in 504 at the deadline (not when the model
/// answers), nothing is stored, and the idempotency key is free for a retry.
#[tokio::test]
async fn slow_upstream_is_504_in_time_and_stores_nothing() {
    let fake = FakeOpenAi::start(200, Duration::from_secs(20)).await;
    let stack = LocalStack::start_with(fake.llm("sk-test", Duration::from_millis(700))).await;
    let key = tenant(&stack, "Acme").await;
    consent(&stack, &key, "dr-smith", true).await;
    let started = Instant::now();
    let response = stack
        .call(
            "POST",
            "/v1/generations",
            &key,
            Some(&generation_body("dr-smith")),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(
        response.assert_problem(504)["type"],
        "https://nutripro.dev/problems/upstream-timeout"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered at the deadline, long before the model"
    );
    let listed = stack
        .get_as("/v1/generations?dietitian_id=dr-smith", &key)
        .await
        .json();
    assert_eq!(listed["items"], json!([]), "nothing stored, nothing billed");
    let retry = stack
        .call(
            "POST",
            "/v1/generations",
            &key,
            Some(&generation_body("dr-smith")),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(
        retry.status, 504,
        "the key was released, so the retry ran again"
    );
}

#[tokio::test]
async fn upstream_errors_are_502_and_store_nothing() {
    let fake = FakeOpenAi::start(500, Duration::ZERO).await;
    let stack = LocalStack::start_with(fake.llm("sk-test", Duration::from_secs(5))).await;
    let key = tenant(&stack, "Acme").await;
    consent(&stack, &key, "dr-smith", true).await;
    let response = stack
        .call(
            "POST",
            "/v1/generations",
            &key,
            Some(&generation_body("dr-smith")),
            &[],
        )
        .await;
    assert_eq!(
        response.assert_problem(502)["type"],
        "https://nutripro.dev/problems/upstream-error"
    );
    assert_eq!(
        fake.request_count(),
        3,
        "first attempt plus two bounded retries"
    );
    assert_eq!(
        stack
            .get_as("/v1/generations?dietitian_id=dr-smith", &key)
            .await
            .json()["items"],
        json!([])
    );
}

#[tokio::test]
async fn the_real_client_path_stores_the_models_answer_and_usage() {
    let fake = FakeOpenAi::start(200, Duration::ZERO).await;
    let stack = LocalStack::start_with(fake.llm("sk-test", Duration::from_secs(5))).await;
    let key = tenant(&stack, "Acme").await;
    consent(&stack, &key, "dr-smith", true).await;
    let generation = stack
        .call(
            "POST",
            "/v1/generations",
            &key,
            // A prompt longer than the 1,000 tokens the fake reports: the reservation's bound
            // (one token per byte at most) covers the reported usage, so it is billed as is.
            Some(&json!({
                "dietitian_id": "dr-smith", "kind": "diet_introduction",
                "input": {"client": "Ann", "notes": "more energy ".repeat(100)}
            })),
            &[],
        )
        .await
        .json();
    // The model's text, then the tenant's disclaimer (issue 14).
    let content = generation["content"].as_str().unwrap();
    assert!(
        content.starts_with(&format!("{FAKE_COMPLETION}\n\n")),
        "{content}"
    );
    assert!(content.ends_with(DEFAULT_DISCLAIMER));
    assert_eq!(generation["disclaimer_appended"], true);
    assert_eq!(generation["safety"]["status"], "passed");
    assert_eq!(generation["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(
        generation["usage"],
        json!({"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100})
    );
    assert_eq!(
        generation["cost"],
        json!({"amount_micros": 300 + 120, "currency": "USD"}),
        "1K prompt + 100 completion tokens at the standard plan's 300 and 1,200 micros per 1K"
    );
}

/// T05: a generation altered in the store is detected and withheld.
#[tokio::test]
async fn tampered_generations_are_detected() {
    let stack = LocalStack::start().await;
    let key = tenant(&stack, "Acme").await;
    consent(&stack, &key, "dr-smith", true).await;
    let generation = stack
        .call(
            "POST",
            "/v1/generations",
            &key,
            Some(&generation_body("dr-smith")),
            &[],
        )
        .await
        .json();
    let id = generation["id"].as_str().unwrap();

    let db = rusqlite::Connection::open(stack.data_dir.path().join("nutripro.sqlite3")).unwrap();
    let changed = db
        .execute(
            "UPDATE generations SET content = 'Stop eating entirely.' WHERE id = ?1",
            [id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let response = stack.get_as(&format!("/v1/generations/{id}"), &key).await;
    let problem = response.assert_problem(500);
    assert_eq!(
        problem["type"],
        "https://nutripro.dev/problems/integrity-check-failed"
    );
    assert!(
        !response.body.contains("Stop eating"),
        "the altered text is withheld"
    );
    stack
        .get_as("/v1/generations?dietitian_id=dr-smith", &key)
        .await
        .assert_problem(500);
}
