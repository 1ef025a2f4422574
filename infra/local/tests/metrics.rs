//! Issue 17, metrics: the gateway's log carries one CloudWatch Embedded Metric Format
//! document per request and per authorizer decision — the same lines the Lambda
//! functions write to CloudWatch. Each is checked against the EMF specification's rules
//! and for what it says: a generation's tokens and cost per tenant, a refused key per
//! authorizer, never a key or a text.

mod common;

use common::{credentials, request, serve_logging};
use std::time::{Duration, Instant};

/// The CloudWatch units the specification allows.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The rules of the EMF specification ("Specification: Embedded metric format"): a root
/// `_aws` object with an integer `Timestamp` (ms) and `CloudWatchMetrics` directives;
/// each directive a 1–1024 character `Namespace`, `Dimensions` as an array of dimension
/// sets of at most 30 names, each naming a string member of the root, and 1–100
/// `Metrics` whose `Name` is a numeric member (or array of numbers) of the root and
/// whose optional `Unit` is a CloudWatch unit.
fn check_emf(doc: &serde_json::Value) -> Result<(), String> {
    let root = doc.as_object().ok_or("not an object")?;
    let aws = root
        .get("_aws")
        .and_then(|v| v.as_object())
        .ok_or("no _aws object")?;
    let timestamp = aws
        .get("Timestamp")
        .and_then(|v| v.as_i64())
        .ok_or("no integer Timestamp")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    if (now - timestamp).abs() > 3_600_000 {
        return Err(format!("Timestamp {timestamp} is not now in ms"));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(|v| v.as_array())
        .ok_or("no CloudWatchMetrics array")?;
    if directives.is_empty() {
        return Err("no directive".into());
    }
    for directive in directives {
        let namespace = directive["Namespace"].as_str().ok_or("no Namespace")?;
        if !(1..=1024).contains(&namespace.len()) {
            return Err("Namespace length".into());
        }
        let sets = directive["Dimensions"]
            .as_array()
            .ok_or("no Dimensions array")?;
        for set in sets {
            let names = set.as_array().ok_or("a dimension set is not an array")?;
            if names.len() > 30 {
                return Err("more than 30 dimensions".into());
            }
            for name in names {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                if !root.get(name).is_some_and(|v| v.is_string()) {
                    return Err(format!("dimension {name} has no string member"));
                }
            }
        }
        let metrics = directive["Metrics"].as_array().ok_or("no Metrics array")?;
        if !(1..=100).contains(&metrics.len()) {
            return Err("1 to 100 metrics per directive".into());
        }
        for metric in metrics {
            let name = metric["Name"].as_str().ok_or("a metric without a Name")?;
            let numeric = match root.get(name) {
                Some(v) if v.is_number() => true,
                Some(serde_json::Value::Array(values)) => values.iter().all(|v| v.is_number()),
                _ => false,
            };
            if !numeric {
                return Err(format!("metric {name} has no numeric member"));
            }
            if let Some(unit) = metric.get("Unit") {
                let unit = unit.as_str().ok_or("Unit is not a string")?;
                if !UNITS.contains(&unit) {
                    return Err(format!("unknown unit {unit}"));
                }
            }
        }
    }
    Ok(())
}

fn emf_lines(log: &std::sync::Mutex<Vec<String>>) -> Vec<serde_json::Value> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|line| line.starts_with("{\"_aws\""))
        .map(|line| serde_json::from_str(line).expect("an EMF line is JSON"))
        .collect()
}

fn wait_for(
    log: &std::sync::Mutex<Vec<String>>,
    found: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let started = Instant::now();
    loop {
        if let Some(doc) = emf_lines(log).into_iter().find(&found) {
            return doc;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no such metric line"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_gateway_log_carries_one_emf_document_per_request() {
    let data_dir = tempfile::tempdir().unwrap();
    let (_server, url, log) = serve_logging(data_dir.path(), &[]);
    let (_admin, key, tenant) = credentials(data_dir.path());
    let created = common::consented_generation(&url, &key, "dr-emf");
    let generated = created.json()["content"].as_str().unwrap().to_owned();
    let missing = request(
        &url,
        "GET",
        "/v1/generations/0193a0e1a1b27c3d8e9f0a1b2c3d4e5f",
        &key,
        None,
        &[],
    )
    .unwrap();
    assert_eq!(missing.status, 404);
    let refused = request(&url, "GET", "/v1/me", "np_live_not-a-real-key", None, &[]).unwrap();
    assert_eq!(refused.status, 401);

    let generation = wait_for(&log, |d| d["Function"] == "create_generation");
    let lost = wait_for(&log, |d| d["Function"] == "get_generation");
    let authorizer = wait_for(&log, |d| {
        d["Function"] == "api_key_authorizer" && d["Unauthorized"] == 1
    });
    for doc in emf_lines(&log) {
        check_emf(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
        let text = doc.to_string();
        assert!(!text.contains(&key), "a key in a metric line");
        assert!(
            !text.contains(generated.lines().next().unwrap()),
            "generated text in a metric line"
        );
    }

    // Per tenant: the generation, its tokens and cost, no error; per function: latency.
    assert_eq!(generation["TenantId"], tenant.as_str());
    assert_eq!(
        generation["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "NutriPro"
    );
    assert_eq!(generation["Generations"], 1);
    assert!(
        generation["PromptTokens"].as_f64().unwrap() > 0.0,
        "{generation}"
    );
    assert!(
        generation["CompletionTokens"].as_f64().unwrap() > 0.0,
        "{generation}"
    );
    let cost = created.json()["cost"]["amount_micros"].as_f64().unwrap();
    assert_eq!(generation["CostMicros"].as_f64().unwrap(), cost);
    assert_eq!(generation["4xx"], 0);
    assert_eq!(generation["5xx"], 0);
    assert_eq!(generation["Errors"], 0);
    assert!(generation["Latency"].as_f64().unwrap() > 0.0);
    let tenant_metrics = &generation["_aws"]["CloudWatchMetrics"][1];
    assert_eq!(
        tenant_metrics["Dimensions"],
        serde_json::json!([["TenantId"]])
    );
    // A 404 is the tenant's 4xx, not the function's error.
    assert_eq!(lost["4xx"], 1);
    assert_eq!(lost["Errors"], 0);
    // The authorizer counts the refusal, without a tenant or the key.
    assert!(authorizer.get("TenantId").is_none());
    assert_eq!(authorizer["Errors"], 0);
}
