//! Every function of `template.yaml` builds in AWS from exactly the environment the
//! template gives it: a row that needs a table, secret or setting its resource does not
//! name fails here (as it would fail init in Lambda), and a Handler that names no row is
//! refused. Nothing here touches the network: clients are built, never called.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use nutripro_endpoints::aws::AwsServices;
use nutripro_endpoints::{Function, WiringError};
use serde_yaml::Value;
use std::collections::BTreeMap;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn offline_config() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build()
}

/// The names of a function's environment variables, the Globals' included.
fn environment(template: &Value, function: &Value) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for variables in [
        &template["Globals"]["Function"]["Environment"]["Variables"],
        &function["Properties"]["Environment"]["Variables"],
    ] {
        for (name, _) in variables.as_mapping().into_iter().flatten() {
            let name = name.as_str().unwrap().to_owned();
            // Values are intrinsics (!Ref …) resolved at deploy time; any value will do,
            // numbers must parse.
            let value = if name.ends_with("_SECONDS") {
                "300"
            } else if name == "AUDIT_REANCHOR" {
                // Its parameter's default: no re-anchor.
                ""
            } else {
                "from-template"
            };
            names.insert(name, value.to_owned());
        }
    }
    names
}

#[tokio::test]
async fn every_template_function_builds_from_its_own_environment() {
    let template = template();
    let mut built = 0;
    for (id, function) in template["Resources"].as_mapping().unwrap() {
        if function["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let handler = function["Properties"]["Handler"].as_str().unwrap();
        let env = environment(&template, function);
        let services =
            AwsServices::with_lookup(offline_config(), move |name| env.get(name).cloned());
        match nutripro_endpoints::build(handler, &services) {
            Ok(
                Function::Http(_)
                | Function::Authorizer(_)
                | Function::CognitoTrigger(_)
                | Function::Job(_),
            ) => built += 1,
            Err(error) => {
                panic!("{id:?} ({handler}) cannot start with its template environment: {error}")
            }
        }
    }
    assert_eq!(built, nutripro_endpoints::ENDPOINTS.len());
}

#[tokio::test]
async fn a_function_without_what_it_needs_or_with_no_row_fails_loudly() {
    let empty = AwsServices::with_lookup(offline_config(), |_| None);
    assert_eq!(
        nutripro_endpoints::build("get_me", &empty).err(),
        Some(WiringError::Missing("CONTROL_PLANE_TABLE"))
    );
    assert_eq!(
        nutripro_endpoints::build(
            "create_generation",
            &AwsServices::with_lookup(offline_config(), |name| {
                (name != "OPENAI_SECRET_ARN").then(|| "x".to_owned())
            })
        )
        .err(),
        Some(WiringError::Missing("OPENAI_SECRET_ARN"))
    );
    assert!(matches!(
        nutripro_endpoints::build("get_everything", &empty).err(),
        Some(WiringError::UnknownFunction(_))
    ));
}

/// The checkpoint job's re-anchor (`AUDIT_REANCHOR`) must name an entry: anything else
/// stops the job at start, instead of being taken for "none".
#[tokio::test]
async fn the_checkpoint_job_refuses_a_reanchor_that_names_no_entry() {
    let with = |reanchor: &'static str| {
        AwsServices::with_lookup(offline_config(), move |name| {
            Some(
                if name == "AUDIT_REANCHOR" {
                    reanchor
                } else {
                    "x"
                }
                .to_owned(),
            )
        })
    };
    for good in ["", &*format!("7:{}", "0a".repeat(32)).leak()] {
        assert!(
            nutripro_endpoints::build("audit_checkpoint", &with(good)).is_ok(),
            "{good:?}"
        );
    }
    assert!(matches!(
        nutripro_endpoints::build("audit_checkpoint", &with("7:not-a-hash")).err(),
        Some(WiringError::Invalid("AUDIT_REANCHOR", _))
    ));
}
