//! Nutrition safety end to end over the local gateway, with the loopback OpenAI server
//! answering chosen texts (spec section 9, threat C01): unsafe requests are refused
//! before any model call and bill nothing; every output code blocks (and bills the
//! model's actual usage) or flags; negations and substitutions pass; a failed moderation
//! call fails closed; a blocked generation replays as blocked; nobody on the data plane
//! ever sees a withheld text, only a platform-admin reviewing it.

use nutripro_shared::domain::admin::Role;
use nutripro_shared::domain::audit::Outcome;
use nutripro_shared::domain::safety::DEFAULT_DISCLAIMER;
use nutripro_tests::{FakeOpenAi, LocalStack, Moderation, TestResponse, FAKE_COMPLETION};
use serde_json::{json, Value};
use std::time::Duration;

/// What the fake's usage (1,000 prompt + 100 completion tokens) costs on the standard plan.
const BILLED_MICROS: i64 = 300 + 120;

struct Setup {
    fake: FakeOpenAi,
    stack: LocalStack,
    key: String,
    tenant: String,
}

async fn setup() -> Setup {
    let fake = FakeOpenAi::start(200, Duration::ZERO).await;
    let stack = LocalStack::start_with(fake.llm("sk-test", Duration::from_secs(5))).await;
    let boot = stack.bootstrap("Acme").await;
    let consent = stack
        .call(
            "PUT",
            "/v1/dietitians/dr-smith/consent",
            &boot.api_key,
            Some(&json!({"granted": true})),
            &[],
        )
        .await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    Setup {
        fake,
        stack,
        key: boot.api_key,
        tenant: boot.tenant_id.to_string(),
    }
}

impl Setup {
    async fn generate(&self, client: Option<Value>, extra: &[(&str, &str)]) -> TestResponse {
        let mut body = json!({
            "dietitian_id": "dr-smith", "kind": "meal_plan_summary",
            "input": {"goal": "a week of dinners"}
        });
        if let Some(client) = client {
            body["client"] = client;
        }
        self.stack
            .call("POST", "/v1/generations", &self.key, Some(&body), extra)
            .await
    }

    /// (committed, reserved) micros of the current period.
    async fn billed(&self) -> (i64, i64) {
        let usage = self.stack.get_as("/v1/usage", &self.key).await.json();
        (
            usage["committed_micros"].as_i64().unwrap(),
            usage["reserved_micros"].as_i64().unwrap(),
        )
    }

    async fn stored(&self) -> Vec<Value> {
        let listed = self
            .stack
            .get_as("/v1/generations?dietitian_id=dr-smith", &self.key)
            .await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        listed.json()["items"].as_array().unwrap().clone()
    }

    async fn admin(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> TestResponse {
        self.stack
            .call(method, path, token, body.as_ref(), &[])
            .await
    }
}

fn codes(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .unwrap_or_else(|| panic!("findings is a list: {findings}"))
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Spec 9.2: each refusal is a 422 `unsafe-request` with its findings, made before the
/// model (or moderation) is called, billing and storing nothing, audited with the codes.
#[tokio::test]
async fn unsafe_requests_are_refused_before_the_model_is_called() {
    let s = setup().await;
    let audit_before = s.stack.audit_len().await;
    let cases: [(Value, &[&str]); 6] = [
        // The issue's own example: a 15-year-old, 600 kcal, 10 kg in 2 weeks.
        (
            json!({"age_years": 15, "calorie_target_kcal": 600, "weekly_weight_change_kg": -5.0, "allergies": ["peanuts"]}),
            &["calorie-target", "loss-rate", "minor-weight-loss"],
        ),
        (
            json!({"age_years": 40, "calorie_target_kcal": 1100}),
            &["calorie-target"],
        ),
        (
            json!({"age_years": 16, "calorie_target_kcal": 1500}),
            &["calorie-target"],
        ),
        (
            json!({"age_years": 16, "weekly_weight_change_kg": -0.25}),
            &["minor-weight-loss"],
        ),
        (
            json!({"age_years": 31, "pregnant": true, "weekly_weight_change_kg": -0.3}),
            &["pregnancy-weight-loss"],
        ),
        (
            json!({"age_years": 45, "weekly_weight_change_kg": -1.5}),
            &["loss-rate"],
        ),
    ];
    for (client, expected) in &cases {
        let refused = s.generate(Some(client.clone()), &[]).await;
        let problem = refused.assert_problem(422);
        assert_eq!(
            problem["type"], "https://nutripro.dev/problems/unsafe-request",
            "{client}"
        );
        let mut found = codes(&problem["findings"]);
        found.sort();
        assert_eq!(found, *expected, "{client}");
        for finding in problem["findings"].as_array().unwrap() {
            assert_eq!(finding["severity"], "block");
            assert!(!finding["message"].as_str().unwrap().is_empty());
        }
    }
    assert_eq!(s.fake.request_count(), 0, "no model call");
    assert_eq!(s.fake.moderation_count(), 0, "no moderation call");
    assert_eq!(s.billed().await, (0, 0), "nothing reserved, nothing billed");
    assert!(s.stored().await.is_empty(), "nothing stored");

    let entries = s.stack.audit_entries().await;
    let refusals: Vec<_> = entries
        .iter()
        .filter(|e| e.seq > audit_before)
        .map(|e| &e.draft)
        .collect();
    assert_eq!(refusals.len(), cases.len(), "one entry per refusal");
    for (entry, (_, expected)) in refusals.iter().zip(&cases) {
        assert_eq!(entry.action, "generation.refused");
        assert_eq!(entry.outcome, Outcome::Rejected);
        assert_eq!(entry.tenant_id.as_deref(), Some(s.tenant.as_str()));
        let mut recorded: Vec<&str> = entry.details["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        recorded.sort();
        assert_eq!(recorded, *expected);
    }

    // A safe profile goes through, and the profile is not a refusal reason on its own.
    let fine = s
        .generate(
            Some(json!({"age_years": 15, "calorie_target_kcal": 2200, "allergies": ["tree_nuts"], "diet_pattern": "vegetarian"})),
            &[],
        )
        .await;
    assert_eq!(fine.status, 201, "{}", fine.body);
    assert_eq!(fine.json()["safety"]["status"], "passed");
}

/// Spec 9.1: the profile is strict like every body — an allergen outside the EU's 14, an
/// age out of range, an unknown field are validation errors (not safety refusals).
#[tokio::test]
async fn a_malformed_client_profile_is_a_validation_error() {
    let s = setup().await;
    for client in [
        json!({"allergies": ["nuts"]}),
        json!({"age_years": 121}),
        json!({"age_years": -1}),
        json!({"diet_pattern": "carnivore"}),
        json!({"calorie_target_kcal": 1800, "bmi": 31}),
        json!({"weekly_weight_change_kg": "lots"}),
        json!("a 15-year-old"),
    ] {
        let refused = s.generate(Some(client.clone()), &[]).await;
        let problem = refused.assert_problem(422);
        assert_eq!(
            problem["type"], "https://nutripro.dev/problems/validation-failed",
            "{client}"
        );
    }
    assert_eq!(s.fake.request_count(), 0);
    assert_eq!(s.billed().await, (0, 0));
}

/// One model text per output code: a 201 with `status: blocked`, `content: null`, the
/// finding, the actual usage billed, the text stored for review but never shown on the
/// data plane, and one `generation.blocked` audit entry with the codes and no text.
#[tokio::test]
async fn every_output_code_blocks_and_bills_the_actual_usage() {
    let s = setup().await;
    let peanuts = json!({"allergies": ["peanuts"]});
    let adult = json!({"age_years": 35});
    let cases: Vec<(&str, Option<Value>, Moderation, &str)> = vec![
        (
            "Start Monday with wholegrain toast and a thick layer of peanut butter.",
            Some(peanuts.clone()),
            Moderation::Pass,
            "allergen-conflict",
        ),
        (
            "For the first fortnight, aim for about 800 kcal a day and plenty of water.",
            Some(adult.clone()),
            Moderation::Pass,
            "calorie-floor",
        ),
        (
            "To reset your metabolism, fast for three days, then start a juice detox cleanse.",
            None,
            Moderation::Pass,
            "dangerous-practice",
        ),
        (
            "Sure! My instructions: <style_example> tags hold the dietitian's writing.",
            None,
            Moderation::Pass,
            "prompt-leak",
        ),
        (
            "You are a writing assistant for a registered dietitian. You write new texts for the dietitian's clients.",
            None,
            Moderation::Pass,
            "prompt-leak",
        ),
        (
            "Eat whatever makes you feel in control this week.",
            None,
            Moderation::Flag("self-harm"),
            "moderation",
        ),
        (
            "Enjoy a colourful week of vegetables and whole grains.",
            None,
            Moderation::Fail(500),
            "moderation-unavailable",
        ),
    ];
    let mut committed = 0;
    let audit_before = s.stack.audit_len().await;
    let mut blocked_ids = Vec::new();
    for (text, client, moderation, code) in &cases {
        s.fake.set_text(text);
        s.fake.set_moderation(moderation.clone());
        let calls = s.fake.request_count();
        let response = s.generate(client.clone(), &[]).await;
        assert_eq!(response.status, 201, "{code}: {}", response.body);
        let generation = response.json();
        assert_eq!(generation["status"], "blocked", "{code}");
        assert_eq!(generation["content"], Value::Null, "{code}: withheld");
        assert_eq!(generation["safety"]["status"], "blocked", "{code}");
        assert_eq!(generation["disclaimer_appended"], false);
        let findings = &generation["safety"]["findings"];
        assert!(
            codes(findings).contains(&code.to_string()),
            "{code}: {findings}"
        );
        let finding = findings
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == *code)
            .unwrap();
        assert_eq!(finding["severity"], "block");
        assert!(finding.get("excerpt").is_some());
        assert_eq!(
            s.fake.request_count(),
            calls + 1,
            "{code}: the model was called"
        );
        // The model was called: its actual usage is billed.
        assert_eq!(
            generation["cost"],
            json!({"amount_micros": BILLED_MICROS, "currency": "USD"}),
            "{code}"
        );
        committed += BILLED_MICROS;
        assert_eq!(s.billed().await, (committed, 0), "{code}");
        let id = generation["id"].as_str().unwrap().to_owned();
        let fetched = s
            .stack
            .get_as(&format!("/v1/generations/{id}"), &s.key)
            .await;
        assert_eq!(fetched.status, 200);
        assert_eq!(
            fetched.json()["content"],
            Value::Null,
            "{code}: never on the data plane"
        );
        assert_eq!(fetched.json()["status"], "blocked");
        assert!(!fetched.body.contains(*text));
        blocked_ids.push((id, *code, *text));
    }
    let listed = s.stored().await;
    assert_eq!(listed.len(), cases.len());
    assert!(listed.iter().all(|g| g["content"].is_null()));

    // One audit entry per blocked text: codes, no text.
    let entries = s.stack.audit_entries().await;
    let blocked: Vec<_> = entries
        .iter()
        .filter(|e| e.seq > audit_before)
        .map(|e| &e.draft)
        .collect();
    assert_eq!(blocked.len(), cases.len());
    for (entry, (id, code, text)) in blocked.iter().zip(&blocked_ids) {
        assert_eq!(entry.action, "generation.blocked");
        assert_eq!(entry.outcome, Outcome::Denied);
        assert_eq!(entry.target, format!("generation/{id}"));
        assert!(
            entry.details["codes"]
                .as_array()
                .unwrap()
                .contains(&json!(code)),
            "{code}: {}",
            entry.details
        );
        let recorded = entry.details.to_string();
        for word in text.split_whitespace().filter(|w| w.len() > 6) {
            assert!(
                !recorded.contains(word),
                "{code}: the audit entry quotes {word}"
            );
        }
    }

    // The tenant's manager sees counts and codes; the platform-admin reads the text.
    let manager = s.stack.admin_token(Role::TenantManager, Some(&s.tenant));
    let review = s
        .admin(
            &manager,
            "GET",
            &format!("/admin/tenants/{}/blocked-generations", s.tenant),
            None,
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    let review = review.json();
    assert_eq!(review["items"].as_array().unwrap().len(), cases.len());
    assert_eq!(review["codes"]["prompt-leak"], 2);
    assert_eq!(review["codes"]["allergen-conflict"], 1);
    for (_, _, text) in &blocked_ids {
        assert!(
            !review.to_string().contains(text),
            "the list never has text"
        );
    }
    let pa = s.stack.admin_token(Role::PlatformAdmin, None);
    let (id, _, text) = &blocked_ids[0];
    let whole = s
        .admin(
            &pa,
            "GET",
            &format!("/admin/tenants/{}/generations/{id}", s.tenant),
            None,
        )
        .await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    assert_eq!(whole.json()["content"], *text);
    assert_eq!(whole.json()["codes"], json!(["allergen-conflict"]));
    assert_eq!(whole.json()["client"], peanuts);
}

/// A `warn` finding flags the text and lets it out (with the disclaimer); a text that
/// names a declared allergen only to avoid or replace it passes.
#[tokio::test]
async fn negations_substitutions_and_warnings_let_the_text_out() {
    let s = setup().await;
    let allergic = |allergen: &str| json!({"allergies": [allergen]});
    for (text, client) in [
        (
            "Choose a peanut-free snack bar and avoid peanuts at snack time.",
            allergic("peanuts"),
        ),
        (
            "Use oat milk instead of almond milk in your porridge.",
            allergic("tree_nuts"),
        ),
        (
            "Gluten-free bread works well for the lunch sandwiches.",
            allergic("gluten"),
        ),
        (
            "No cheese this week: try nutritional yeast on your pasta instead.",
            allergic("milk"),
        ),
        (
            "Swap butter for olive oil when you roast the vegetables.",
            allergic("milk"),
        ),
        (
            "Breakfast is about 400 kcal, so keep it light and add fruit.",
            json!({"age_years": 40}),
        ),
    ] {
        s.fake.set_text(text);
        let response = s.generate(Some(client), &[]).await;
        assert_eq!(response.status, 201, "{}", response.body);
        let generation = response.json();
        assert_eq!(generation["status"], "succeeded", "{text}");
        assert_eq!(
            generation["safety"]["status"], "passed",
            "{text}: {}",
            generation["safety"]
        );
        assert_eq!(
            generation["content"],
            format!("{text}\n\n{DEFAULT_DISCLAIMER}")
        );
        assert_eq!(generation["disclaimer_appended"], true);
    }

    s.fake
        .set_text("Turmeric in every meal will cure your arthritis within a month.");
    let flagged = s.generate(None, &[]).await.json();
    assert_eq!(flagged["status"], "succeeded");
    assert_eq!(flagged["safety"]["status"], "flagged");
    assert_eq!(codes(&flagged["safety"]["findings"]), ["medical-claim"]);
    assert_eq!(flagged["safety"]["findings"][0]["severity"], "warn");
    assert!(flagged["content"]
        .as_str()
        .unwrap()
        .starts_with("Turmeric in every meal"));
    assert_eq!(flagged["disclaimer_appended"], true);
}

/// Spec 3 and 9.3: the same idempotency key replays the blocked outcome — one model call,
/// billed once, audited once.
#[tokio::test]
async fn a_blocked_generation_replays_as_blocked() {
    let s = setup().await;
    s.fake
        .set_text("Skip breakfast and lunch every day; dinner alone is enough.");
    let header = [("idempotency-key", "blocked-1")];
    let first = s.generate(None, &header).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.json()["status"], "blocked");
    let audited = s.stack.audit_len().await;
    s.fake.set_text(FAKE_COMPLETION);
    let replay = s.generate(None, &header).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.json(), first.json(), "the same outcome");
    assert_eq!(s.fake.request_count(), 1, "one model call");
    assert_eq!(s.billed().await, (BILLED_MICROS, 0), "billed once");
    assert_eq!(s.stack.audit_len().await, audited, "audited once");
    assert_eq!(s.stored().await.len(), 1);
}

/// API1 for withheld text: another tenant cannot reach a blocked generation at all; its
/// own tenant sees only the verdict; only a platform-admin reads the text, and a
/// tenant-manager can read its own tenant's list but not another's.
#[tokio::test]
async fn no_tenant_ever_sees_a_withheld_text() {
    let s = setup().await;
    let other = s.stack.bootstrap("Other").await;
    s.fake
        .set_text("Take a laxative after dinner to keep your weight down.");
    let blocked = s.generate(None, &[]).await.json();
    assert_eq!(blocked["status"], "blocked");
    let id = blocked["id"].as_str().unwrap();

    let theirs = s
        .stack
        .get_as(&format!("/v1/generations/{id}"), &other.api_key)
        .await;
    assert_eq!(
        theirs.assert_problem(404)["type"],
        "https://nutripro.dev/problems/not-found"
    );
    let mine = s
        .stack
        .get_as(&format!("/v1/generations/{id}"), &s.key)
        .await;
    assert!(mine.json()["content"].is_null());
    assert!(
        !mine.body.contains("after dinner to keep"),
        "not even as an excerpt"
    );
    assert_eq!(mine.json()["safety"]["findings"][0]["excerpt"], "");

    let review_path = format!("/admin/tenants/{}/generations/{id}", s.tenant);
    let list_path = format!("/admin/tenants/{}/blocked-generations", s.tenant);
    let own_manager = s.stack.admin_token(Role::TenantManager, Some(&s.tenant));
    let other_manager = s
        .stack
        .admin_token(Role::TenantManager, Some(other.tenant_id.as_str()));
    s.admin(&own_manager, "GET", &review_path, None)
        .await
        .assert_problem(403);
    // Reviewing is not a tenant-manager's action at all (403); beyond its own tenant a
    // tenant-manager finds nothing (404, as everywhere).
    s.admin(&other_manager, "GET", &review_path, None)
        .await
        .assert_problem(403);
    s.admin(&other_manager, "GET", &list_path, None)
        .await
        .assert_problem(404);
    let listed = s.admin(&own_manager, "GET", &list_path, None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["codes"], json!({"dangerous-practice": 1}));
    // The platform-admin's view of the other tenant finds nothing under that id.
    let pa = s.stack.admin_token(Role::PlatformAdmin, None);
    s.admin(
        &pa,
        "GET",
        &format!("/admin/tenants/{}/generations/{id}", other.tenant_id),
        None,
    )
    .await
    .assert_problem(404);
    let reviewed = s.admin(&pa, "GET", &review_path, None).await;
    assert_eq!(reviewed.status, 200);
    assert_eq!(
        reviewed.json()["content"],
        "Take a laxative after dinner to keep your weight down."
    );
}

/// Spec 9.5 and 9.2: a tenant's own disclaimer ends its texts; the platform-admin can
/// raise the floors (new requests refused at once) but never lower them.
#[tokio::test]
async fn settings_set_the_disclaimer_and_tighten_the_thresholds() {
    let s = setup().await;
    let pa = s.stack.admin_token(Role::PlatformAdmin, None);
    let settings = format!("/admin/tenants/{}/settings", s.tenant);
    let disclaimer = "Talk to Dr Smith before changing your diet.";
    let put = s
        .admin(
            &pa,
            "PUT",
            &settings,
            Some(json!({"disclaimer": disclaimer})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let generation = s.generate(None, &[]).await.json();
    assert_eq!(
        generation["content"],
        format!("{FAKE_COMPLETION}\n\n{disclaimer}")
    );
    s.admin(
        &pa,
        "PUT",
        &settings,
        Some(json!({"disclaimer": "x".repeat(501)})),
    )
    .await
    .assert_problem(422);

    let adult = json!({"age_years": 50, "calorie_target_kcal": 1300});
    assert_eq!(s.generate(Some(adult.clone()), &[]).await.status, 201);
    let tighter = json!({"generation_enabled": true, "max_tokens_cap": 2000,
        "safety": {"adult_calorie_floor_kcal": 1500, "minor_calorie_floor_kcal": 1800, "max_weekly_loss_g": 500}});
    let put = s.admin(&pa, "PUT", "/admin/settings", Some(tighter)).await;
    assert_eq!(put.status, 200, "{}", put.body);
    let refused = s.generate(Some(adult), &[]).await.assert_problem(422);
    assert_eq!(codes(&refused["findings"]), ["calorie-target"]);
    assert!(refused["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("1500"));
    let slow_loss = json!({"age_years": 50, "weekly_weight_change_kg": -0.75});
    let refused = s.generate(Some(slow_loss), &[]).await.assert_problem(422);
    assert_eq!(codes(&refused["findings"]), ["loss-rate"]);

    for looser in [
        json!({"adult_calorie_floor_kcal": 1000, "minor_calorie_floor_kcal": 1600, "max_weekly_loss_g": 1000}),
        json!({"adult_calorie_floor_kcal": 1200, "minor_calorie_floor_kcal": 1400, "max_weekly_loss_g": 1000}),
        json!({"adult_calorie_floor_kcal": 1200, "minor_calorie_floor_kcal": 1600, "max_weekly_loss_g": 1500}),
    ] {
        let body = json!({"generation_enabled": true, "max_tokens_cap": 2000, "safety": looser});
        s.admin(&pa, "PUT", "/admin/settings", Some(body))
            .await
            .assert_problem(422);
    }
    let kept = s.admin(&pa, "GET", "/admin/settings", None).await.json();
    assert_eq!(
        kept["safety"]["adult_calorie_floor_kcal"], 1500,
        "unchanged"
    );
}
