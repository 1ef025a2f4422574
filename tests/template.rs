//! Template tests: parse `template.yaml` and check the controls the threat table relies
//! on (T03 every route authorized, T06/T11 least-privilege IAM, T05 encryption and
//! recovery, T17 unknown routes 404, logging and tracing).

use nutripro_shared::adapters::dynamodb::schema;
use serde_yaml::{Mapping, Value};
use std::collections::BTreeSet;

fn template() -> Value {
    serde_yaml::from_str(&nutripro_tests::read_repo_file("template.yaml"))
        .expect("template.yaml parses")
}

fn resources(t: &Value) -> &Mapping {
    t["Resources"].as_mapping().expect("Resources")
}

fn of_type<'a>(t: &'a Value, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
    resources(t)
        .iter()
        .filter(move |(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str().unwrap(), r))
}

/// `!Ref X` / `!GetAtt X.Arn` / `!Sub "${X.Arn}/index/gsi1"` → `X`.
fn referenced(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str(),
        Value::Tagged(t) if t.tag == "GetAtt" => t.value.as_str().and_then(|s| s.split('.').next()),
        Value::Tagged(t) if t.tag == "Sub" => {
            let text = t.value.as_str()?.strip_prefix("${")?;
            text.split(['.', '}']).next()
        }
        _ => None,
    }
}

/// Every (function, statement) of the template's function policies.
fn statements(t: &Value) -> Vec<(&str, &Value)> {
    of_type(t, "AWS::Serverless::Function")
        .flat_map(|(id, f)| {
            as_list(&f["Properties"]["Policies"])
                .into_iter()
                .flat_map(move |p| as_list(&p["Statement"]).into_iter().map(move |s| (id, s)))
        })
        .collect()
}

fn actions(statement: &Value) -> Vec<&str> {
    as_list(&statement["Action"])
        .into_iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

/// The one route without a credential: the receipt key set, a public key (issue 18).
const PUBLIC_ROUTES: [(&str, &str); 1] = [("GET", "/.well-known/nutripro-receipt-keys")];

/// T03: every route has an authorizer; none opts out but the public key set.
#[test]
fn every_route_is_behind_an_authorizer() {
    let routes =
        nutripro_local::template::routes(&nutripro_tests::read_repo_file("template.yaml")).unwrap();
    assert!(!routes.is_empty());
    let public: Vec<_> = routes
        .iter()
        .filter(|r| r.authorizer.is_none())
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(public, PUBLIC_ROUTES, "only the receipt key set is public");
    for route in routes
        .iter()
        .filter(|r| !PUBLIC_ROUTES.contains(&(r.method.as_str(), r.path.as_str())))
    {
        assert!(
            route.authorizer.is_some(),
            "{} {} has no authorizer",
            route.method,
            route.path
        );
    }
    let t = template();
    let apis: Vec<_> = of_type(&t, "AWS::Serverless::Api").collect();
    assert_eq!(apis.len(), 1, "one API");
    let auth = &apis[0].1["Properties"]["Auth"];
    assert_eq!(
        auth["DefaultAuthorizer"], "ApiKeyAuthorizer",
        "deny by default"
    );
    assert_eq!(
        auth["Authorizers"]["ApiKeyAuthorizer"]["FunctionPayloadType"],
        "REQUEST"
    );
    assert_eq!(
        auth["Authorizers"]["ApiKeyAuthorizer"]["Identity"]["Headers"][0],
        "Authorization"
    );
    assert!(
        referenced(&auth["Authorizers"]["ApiKeyAuthorizer"]["Identity"]["ReauthorizeEvery"])
            == Some("AuthorizerCacheTtlSeconds"),
        "the authorizer cache TTL (revocation latency) is a parameter"
    );
    assert_eq!(
        nutripro_tests::read_repo_file("template.yaml")
            .matches("Authorizer: NONE")
            .count(),
        PUBLIC_ROUTES.len(),
        "no opt-out but the public routes"
    );
    assert!(
        of_type(&t, "AWS::Serverless::HttpApi").next().is_none(),
        "no second, unguarded API"
    );
}

/// T09: the API has only the stage we name. Without `OpenApiVersion`, SAM also creates
/// a stage called `Stage`; every function event must target our API, never SAM's
/// implicit one (the route reader refuses events without `RestApiId`).
#[test]
fn no_implicit_api_or_default_stage() {
    let t = template();
    let (_, api) = of_type(&t, "AWS::Serverless::Api").next().unwrap();
    assert!(
        api["Properties"]["OpenApiVersion"].is_string(),
        "OpenApiVersion suppresses the extra 'Stage' stage"
    );
    assert_eq!(
        referenced(&api["Properties"]["StageName"]),
        Some("StageName")
    );
    assert!(
        t["Globals"]["Api"].is_null(),
        "no Globals.Api that would configure an implicit API"
    );
    let mut scheduled = BTreeSet::new();
    for (id, function) in of_type(&t, "AWS::Serverless::Function") {
        if let Some(events) = function["Properties"]["Events"].as_mapping() {
            for (_, event) in events {
                if event["Type"] == "ScheduleV2" {
                    scheduled.insert(id);
                    continue;
                }
                assert_eq!(event["Type"], "Api", "{id}");
                assert_eq!(
                    referenced(&event["Properties"]["RestApiId"]),
                    Some("Api"),
                    "{id}"
                );
            }
        }
    }
    assert_eq!(
        scheduled,
        BTreeSet::from([
            "AuditCheckpointFunction",
            "ClosePeriodScheduledFunction",
            "SweepReservationsFunction"
        ]),
        "the only functions started other than by the API are billing's jobs and the audit checkpoint"
    );
}

/// T17: API Gateway's unknown-route answer becomes a 404 problem, as locally.
#[test]
fn unknown_routes_answer_404_problems() {
    let t = template();
    let (_, api) = of_type(&t, "AWS::Serverless::Api").next().unwrap();
    let responses = &api["Properties"]["GatewayResponses"];
    let missing = &responses["MISSING_AUTHENTICATION_TOKEN"];
    assert_eq!(missing["StatusCode"], 404);
    assert!(missing["ResponseTemplates"]["application/json"]
        .as_str()
        .unwrap()
        .contains("problems/not-found"));
    for kind in [
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "MISSING_AUTHENTICATION_TOKEN",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    ] {
        assert_eq!(
            responses[kind]["ResponseParameters"]["Headers"]["Content-Type"],
            "'application/problem+json'",
            "{kind} is problem+json"
        );
    }
}

/// Issue 12: every answer the gateway writes itself is never sniffed and never cached,
/// like every answer a handler writes.
#[test]
fn gateway_responses_are_nosniff_and_no_store() {
    let t = template();
    let (_, api) = of_type(&t, "AWS::Serverless::Api").next().unwrap();
    let responses = api["Properties"]["GatewayResponses"]
        .as_mapping()
        .expect("GatewayResponses");
    assert!(responses.len() >= 7);
    for (kind, response) in responses {
        let headers = &response["ResponseParameters"]["Headers"];
        assert_eq!(headers["X-Content-Type-Options"], "'nosniff'", "{kind:?}");
        assert_eq!(headers["Cache-Control"], "'no-store'", "{kind:?}");
    }
}

#[test]
fn api_logs_traces_and_throttles() {
    let t = template();
    let (_, api) = of_type(&t, "AWS::Serverless::Api").next().unwrap();
    let p = &api["Properties"];
    assert_eq!(p["TracingEnabled"], true);
    assert!(referenced(&p["AccessLogSetting"]["DestinationArn"]).is_some());
    let format = p["AccessLogSetting"]["Format"].as_str().unwrap();
    for field in [
        "$context.requestId",
        "$context.identity.sourceIp",
        "$context.authorizer.key_id",
        "$context.status",
    ] {
        assert!(format.contains(field), "access log records {field} (T08)");
    }
    let settings = &p["MethodSettings"][0];
    assert!(referenced(&settings["ThrottlingRateLimit"]).is_some());
    assert!(referenced(&settings["ThrottlingBurstLimit"]).is_some());
    assert_eq!(
        settings["DataTraceEnabled"], false,
        "request bodies (and keys) never go to execution logs"
    );
}

/// T05 / T11: the control-plane table is encrypted with our key, recoverable, protected.
#[test]
fn tables_are_encrypted_recoverable_and_protected() {
    let t = template();
    let tables: Vec<_> = of_type(&t, "AWS::DynamoDB::Table").collect();
    assert!(!tables.is_empty());
    for (id, table) in tables {
        let p = &table["Properties"];
        assert_eq!(
            p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true,
            "{id} PITR"
        );
        assert_eq!(p["SSESpecification"]["SSEType"], "KMS", "{id} SSE");
        let key =
            referenced(&p["SSESpecification"]["KMSMasterKeyId"]).expect("customer-managed key");
        assert_eq!(
            resources(&t)[key]["Type"],
            "AWS::KMS::Key",
            "{id} uses a CMK of this stack"
        );
        assert_eq!(resources(&t)[key]["Properties"]["EnableKeyRotation"], true);
        assert_eq!(
            p["DeletionProtectionEnabled"], true,
            "{id} deletion protection"
        );
        assert_eq!(
            table["DeletionPolicy"], "Retain",
            "{id} survives stack deletion"
        );
    }
}

/// Both tables in the template have the key schema the DynamoDB adapters (and the tests'
/// local tables) use; the content table expires items through the adapter's TTL attribute.
#[test]
fn tables_match_the_adapter_schema() {
    let t = template();
    let keys = |schema: &Value| -> Vec<(String, String)> {
        as_list(schema)
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap().into(),
                    k["KeyType"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let expected = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect()
    };
    for table in ["ControlPlaneTable", "ContentTable", "AuditTable"] {
        let p = &resources(&t)[table]["Properties"];
        assert_eq!(
            keys(&p["KeySchema"]),
            expected(&schema::TABLE_KEYS),
            "{table}"
        );
        let gsi = &p["GlobalSecondaryIndexes"][0];
        assert_eq!(gsi["IndexName"], schema::GSI1_NAME, "{table}");
        assert_eq!(
            keys(&gsi["KeySchema"]),
            expected(&schema::GSI1_KEYS),
            "{table}"
        );
    }
    let ttl = &resources(&t)["ContentTable"]["Properties"]["TimeToLiveSpecification"];
    assert_eq!(ttl["Enabled"], true);
    assert_eq!(
        ttl["AttributeName"],
        nutripro_shared::adapters::dynamodb::content::TTL_ATTRIBUTE
    );
}

/// T06 / T11: no wildcard actions or resources in any function policy; DynamoDB only on
/// this stack's tables (control-plane access narrowed to item prefixes), Secrets Manager
/// only on the OpenAI key, KMS only to decrypt through Secrets Manager. Nothing else.
#[test]
fn function_policies_are_least_privilege() {
    let t = template();
    let tables: BTreeSet<&str> = of_type(&t, "AWS::DynamoDB::Table")
        .map(|(id, _)| id)
        .collect();
    // These two call no AWS API at all (they get only the basic execution role).
    let no_aws_calls = ["AdminAuthorizerFunction", "AdminTokenClaimsFunction"];
    for (id, function) in of_type(&t, "AWS::Serverless::Function") {
        let policies = as_list(&function["Properties"]["Policies"]);
        assert_eq!(
            policies.is_empty(),
            no_aws_calls.contains(&id),
            "{id}: an explicit policy exactly when it calls AWS"
        );
        for policy in policies {
            assert!(
                policy.is_mapping(),
                "{id}: only inline statements, no managed or SAM policy templates"
            );
        }
    }
    for (id, statement) in statements(&t) {
        assert_eq!(statement["Effect"], "Allow");
        let resources = as_list(&statement["Resource"]);
        assert!(!resources.is_empty());
        for resource in &resources {
            assert_ne!(resource.as_str(), Some("*"), "{id}: wildcard resource");
        }
        let targets: Vec<&str> = resources
            .iter()
            .map(|r| referenced(r).expect("resources reference stack resources"))
            .collect();
        for action in actions(statement) {
            assert!(!action.contains('*'), "{id}: wildcard action {action}");
            let (service, _) = action.split_once(':').unwrap();
            match service {
                "dynamodb" => {
                    for target in &targets {
                        assert!(
                            tables.contains(target),
                            "{id} may only touch this stack's tables, not {target}"
                        );
                        if *target == "ControlPlaneTable" {
                            assert!(
                                statement["Condition"]["ForAllValues:StringLike"]
                                    ["dynamodb:LeadingKeys"]
                                    .is_sequence(),
                                "{id}: {action} on the control plane is narrowed to item prefixes"
                            );
                        }
                    }
                }
                "secretsmanager" => {
                    assert_eq!(action, "secretsmanager:GetSecretValue", "{id}");
                    assert!(
                        targets == ["OpenAiApiKeySecret"] || targets == ["SealingKeySecret"],
                        "{id}: {targets:?}"
                    );
                }
                // The receipt key (issue 18): only the functions that answer a created
                // or read generation or sample sign with it; only the key set reads its
                // public half.
                // ... and the audit checkpoints (signed by the checkpoint job, checked by
                // the verify route).
                "kms" if targets == ["ReceiptSigningKey"] => match action {
                    "kms:Sign" => assert!(
                        [
                            "CreateGenerationFunction",
                            "GetGenerationFunction",
                            "CreateSampleFunction",
                            "GetSampleFunction",
                            "AuditCheckpointFunction"
                        ]
                        .contains(&id),
                        "{id} may not sign with the service key"
                    ),
                    "kms:GetPublicKey" => assert!(
                        ["ReceiptKeysFunction", "VerifyAuditFunction"].contains(&id),
                        "{id} needs no public key"
                    ),
                    other => panic!("{id}: {other} on the receipt key"),
                },
                // Audit checkpoints (issue 18, T07): only the checkpoint job writes the
                // Object Lock bucket; the verify route reads the newest; nobody deletes.
                "s3" => {
                    assert!(
                        targets == ["AuditCheckpointBucket"]
                            || targets == ["AuditCheckpointBucket", "AuditCheckpointBucket"],
                        "{id}: {targets:?}"
                    );
                    match (id, action) {
                        ("AuditCheckpointFunction", "s3:PutObject" | "s3:GetObject") => {}
                        ("VerifyAuditFunction", "s3:GetObject") => {}
                        other => panic!("{other:?}: not an allowed use of the checkpoint bucket"),
                    }
                }
                "kms" => {
                    assert_eq!(action, "kms:Decrypt", "{id}");
                    assert_eq!(targets, ["DataKey"], "{id}");
                    assert!(
                        matches!(
                            statement["Condition"]["StringEquals"]["kms:ViaService"],
                            Value::Tagged(_)
                        ),
                        "{id}: decrypt only through Secrets Manager"
                    );
                }
                "events" => {
                    assert_eq!(action, "events:PutEvents", "{id}");
                    assert_eq!(targets, ["EventBus"], "{id}: only the stack's bus");
                    assert_eq!(
                        id, "CreateGenerationFunction",
                        "only generations raise budget alerts"
                    );
                }
                other => panic!("{id}: unexpected service {other}"),
            }
        }
    }
}

/// Functions serving `/v1` routes.
fn data_plane_functions(t: &Value) -> BTreeSet<&str> {
    of_type(t, "AWS::Serverless::Function")
        .filter(|(_, f)| {
            f["Properties"]["Events"]
                .as_mapping()
                .is_some_and(|events| {
                    events.values().any(|e| {
                        e["Properties"]["Path"]
                            .as_str()
                            .is_some_and(|p| p.starts_with("/v1/"))
                    })
                })
        })
        .map(|(id, _)| id)
        .collect()
}

/// Functions whose policy statements name `resource`, by any action.
fn functions_touching<'a>(t: &'a Value, resource: &str) -> BTreeSet<&'a str> {
    statements(t)
        .into_iter()
        .filter(|(_, s)| {
            as_list(&s["Resource"])
                .iter()
                .any(|r| referenced(r) == Some(resource))
        })
        .map(|(id, _)| id)
        .collect()
}

/// The functions whose environment names `variable`.
fn functions_with_env<'a>(t: &'a Value, variable: &str) -> BTreeSet<&'a str> {
    of_type(t, "AWS::Serverless::Function")
        .filter(|(_, f)| !f["Properties"]["Environment"]["Variables"][variable].is_null())
        .map(|(id, _)| id)
        .collect()
}

/// T11: only control-plane functions can reach the control-plane table, and the data
/// plane's content functions only the content table.
#[test]
fn only_control_plane_functions_touch_the_control_plane_table() {
    let t = template();
    let admin_functions: BTreeSet<&str> = of_type(&t, "AWS::Serverless::Function")
        .filter(|(_, f)| {
            f["Properties"]["Events"]
                .as_mapping()
                .is_some_and(|events| {
                    events.values().all(|e| {
                        e["Properties"]["Path"]
                            .as_str()
                            .is_some_and(|p| p.starts_with("/admin/"))
                    })
                })
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(admin_functions.len(), 27);
    // Every data-plane function reads its tenant's rate limit (tenant, settings, plan;
    // GetItem only, asserted below); the billing jobs read tenants and plans.
    let mut expected = BTreeSet::from([
        "ApiKeyAuthorizerFunction",
        "ClosePeriodScheduledFunction",
        "SweepReservationsFunction",
    ]);
    expected.extend(data_plane_functions(&t));
    // Every admin function but the audit readers and the invoice lookup (billing only).
    expected.extend(
        admin_functions
            .iter()
            .filter(|id| !id.contains("Audit") && **id != "GetInvoiceFunction")
            .copied(),
    );
    assert_eq!(functions_touching(&t, "ControlPlaneTable"), expected);
    let content = functions_touching(&t, "ContentTable");
    // The one exception: the generation function appends the audit entries of refused
    // requests and blocked texts (codes only; append-only, asserted below).
    assert_eq!(
        functions_touching(&t, "AuditTable")
            .intersection(&content)
            .copied()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["CreateGenerationFunction"]),
        "no other content function reaches the audit table"
    );
    for (id, statement) in statements(&t) {
        let on_control_plane = as_list(&statement["Resource"])
            .iter()
            .any(|r| referenced(r) == Some("ControlPlaneTable"));
        if on_control_plane && content.contains(id) {
            assert_eq!(
                actions(statement),
                ["dynamodb:GetItem"],
                "{id}: the control plane is read-only for the data plane"
            );
            let prefixes: Vec<&str> =
                as_list(&statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
            // The admin review routes read the tenant (the offboarded rule) and nothing
            // else of the control plane; they never need plans.
            let allowed: &[&str] = if id == "CreateGenerationFunction" {
                &["SYSTEM", "TENANT#*", "PLAN#*"]
            } else if admin_functions.contains(id) {
                &["TENANT#*"]
            } else {
                &["TENANT#*", "PLAN#*"]
            };
            assert_eq!(prefixes, allowed, "{id}: never API keys");
        }
    }
    assert!(!functions_touching(&t, "ContentTable").contains("ApiKeyAuthorizerFunction"));
}

/// S07: the OpenAI key lives only in Secrets Manager (encrypted with our key), only the
/// generation function can read it, and it never appears in the template.
#[test]
fn only_the_generation_function_can_read_the_openai_key() {
    let t = template();
    let secret = &resources(&t)["OpenAiApiKeySecret"];
    assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
    assert_eq!(
        referenced(&secret["Properties"]["KmsKeyId"]),
        Some("DataKey")
    );
    assert!(
        secret["Properties"]["SecretString"].is_null(),
        "no key value in the template"
    );
    let readers: BTreeSet<&str> = functions_touching(&t, "OpenAiApiKeySecret");
    assert_eq!(readers, BTreeSet::from(["CreateGenerationFunction"]));
    let text = nutripro_tests::read_repo_file("template.yaml");
    assert!(
        !text.contains("{{resolve:secretsmanager"),
        "no secret values resolved into the template"
    );
    let env = &resources(&t)["CreateGenerationFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        referenced(&env["OPENAI_SECRET_ARN"]),
        Some("OpenAiApiKeySecret"),
        "the function gets the ARN only"
    );
}

#[test]
fn the_authorizer_only_reads_keys_and_tenants_and_get_me_only_tenants() {
    let t = template();
    let prefixes = |function: &str| -> BTreeSet<String> {
        as_list(&resources(&t)[function]["Properties"]["Policies"][0]["Statement"])
            .iter()
            .filter(|s| {
                as_list(&s["Resource"])
                    .iter()
                    .any(|r| referenced(r) == Some("ControlPlaneTable"))
            })
            .flat_map(|s| {
                as_list(&s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
            })
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        prefixes("ApiKeyAuthorizerFunction"),
        BTreeSet::from(["APIKEY#*".into(), "TENANT#*".into()])
    );
    assert_eq!(
        prefixes("GetMeFunction"),
        BTreeSet::from(["TENANT#*".into(), "PLAN#*".into()]),
        "its tenant, settings and plan; never keys"
    );
}

/// Every function builds with cargo-lambda from this workspace — all of them the one
/// `bootstrap` binary, with identical build properties, so `sam build` compiles it once —
/// is the row of the endpoint table its unique `Handler` names, and logs JSON to a
/// retained, encrypted log group.
#[test]
fn functions_build_from_workspace_binaries_and_log_properly() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Tracing"], "Active");
    assert!(
        globals["Handler"].is_null(),
        "no default Handler: every function names its row"
    );
    let manifest =
        std::fs::read_to_string(nutripro_tests::repo_root().join("functions/endpoints/Cargo.toml"))
            .unwrap();
    assert!(
        manifest.contains("name = \"bootstrap\""),
        "the one Lambda binary is a [[bin]] of functions/endpoints"
    );
    let mut binaries = BTreeSet::new();
    let mut build_properties = BTreeSet::new();
    let log_groups: Vec<&Value> = of_type(&t, "AWS::Logs::LogGroup").map(|(_, g)| g).collect();
    for (id, function) in of_type(&t, "AWS::Serverless::Function") {
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id}"
        );
        build_properties.insert(serde_yaml::to_string(&function["Metadata"]).unwrap());
        let binary = function["Properties"]["Handler"].as_str().expect("Handler");
        assert!(binaries.insert(binary), "{binary} used twice");
        assert!(
            nutripro_endpoints::find(binary).is_ok(),
            "{id}: Handler {binary} is no row of the endpoint table"
        );
        assert_eq!(
            function["Properties"]["CodeUri"], ".",
            "{id} builds in the shared workspace"
        );
        assert_eq!(function["Properties"]["LoggingConfig"]["LogFormat"], "JSON");
        let group = log_groups
            .iter()
            .find(|g| match &g["Properties"]["LogGroupName"] {
                Value::Tagged(tag) => tag
                    .value
                    .as_str()
                    .is_some_and(|s| s.contains(&format!("${{{id}}}"))),
                _ => false,
            })
            .unwrap_or_else(|| panic!("{id} has no log group"));
        assert!(
            referenced(&group["Properties"]["RetentionInDays"]).is_some(),
            "{id} log retention"
        );
        assert!(
            referenced(&group["Properties"]["KmsKeyId"]).is_some(),
            "{id} logs encrypted"
        );
    }
    assert_eq!(
        build_properties,
        BTreeSet::from([
            "BuildMethod: rust-cargolambda\nBuildProperties:\n  Binary: bootstrap\n".to_owned()
        ]),
        "one set of build properties: SAM builds the binary once for every function"
    );
    assert_eq!(
        binaries.len(),
        nutripro_endpoints::ENDPOINTS.len(),
        "every row is a function"
    );
}

/// T15 / T02: every /admin route runs the admin (JWT) authorizer, every other route the
/// API-key one; so an API key can never reach an admin handler and a JWT never a
/// data-plane handler.
#[test]
fn admin_routes_use_the_admin_authorizer_and_only_they_do() {
    let routes =
        nutripro_local::template::routes(&nutripro_tests::read_repo_file("template.yaml")).unwrap();
    for route in routes
        .iter()
        .filter(|r| !PUBLIC_ROUTES.contains(&(r.method.as_str(), r.path.as_str())))
    {
        let expected = if route.path.starts_with("/admin/") {
            "admin_authorizer"
        } else {
            "api_key_authorizer"
        };
        assert_eq!(
            route.authorizer.as_deref(),
            Some(expected),
            "{} {}",
            route.method,
            route.path
        );
    }
    let t = template();
    let admin = &t["Resources"]["Api"]["Properties"]["Auth"]["Authorizers"]["AdminAuthorizer"];
    assert_eq!(admin["FunctionPayloadType"], "REQUEST");
    assert_eq!(admin["Identity"]["Headers"][0], "Authorization");
    let env = &resources(&t)["AdminAuthorizerFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(referenced(&env["ADMIN_CLIENT_ID"]), Some("AdminAppClient"));
    assert!(
        matches!(&env["ADMIN_ISSUER"], Value::Tagged(tag) if tag.value.as_str().unwrap().contains("${AdminUserPool}"))
    );
}

/// T07: the audit table is encrypted and recoverable like the others, and no function
/// can change or delete an entry: writers get PutItem (create-only by condition in the
/// adapter) and Query; readers Query only.
#[test]
fn the_audit_chain_is_append_only_for_every_function() {
    let t = template();
    let mut writers = BTreeSet::new();
    for (id, statement) in statements(&t) {
        let on_audit = as_list(&statement["Resource"])
            .iter()
            .any(|r| referenced(r) == Some("AuditTable"));
        if !on_audit {
            continue;
        }
        for action in actions(statement) {
            assert!(
                ["dynamodb:PutItem", "dynamodb:Query"].contains(&action),
                "{id}: {action} on the audit table"
            );
            if action == "dynamodb:PutItem" {
                writers.insert(id);
            }
        }
    }
    // The thirteen changing admin functions, the API-key authorizer (key anomalies), the
    // scheduled period close and the generation function (refused and blocked texts).
    assert_eq!(
        writers.len(),
        16,
        "every changing admin function appends: {writers:?}"
    );
    assert!(writers.contains("ApiKeyAuthorizerFunction"));
    assert!(!writers.contains("ListAuditFunction") && !writers.contains("VerifyAuditFunction"));
    let audit = &resources(&t)["AuditTable"]["Properties"];
    assert_eq!(
        audit["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(audit["SSESpecification"]["SSEType"], "KMS");
    assert_eq!(
        referenced(&audit["SSESpecification"]["KMSMasterKeyId"]),
        Some("DataKey")
    );
}

/// T02 / S08: administrators are invited (no self sign-up), MFA (TOTP) is required, the
/// roles are the three groups, the admin page is a public client using the authorization
/// code flow (PKCE), and no user can write its own tenant binding.
#[test]
fn the_admin_user_pool_requires_mfa_and_binds_tenants_safely() {
    let t = template();
    let pool = &resources(&t)["AdminUserPool"]["Properties"];
    assert_eq!(pool["MfaConfiguration"], "ON");
    assert_eq!(pool["EnabledMfas"][0], "SOFTWARE_TOKEN_MFA");
    assert_eq!(
        pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        true
    );
    assert_eq!(
        referenced(&pool["LambdaConfig"]["PreTokenGenerationConfig"]["LambdaArn"]),
        Some("AdminTokenClaimsFunction")
    );
    let groups: BTreeSet<&str> = of_type(&t, "AWS::Cognito::UserPoolGroup")
        .map(|(_, g)| g["Properties"]["GroupName"].as_str().unwrap())
        .collect();
    let roles: BTreeSet<&str> = nutripro_shared::domain::admin::Role::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(groups, roles, "one group per role of the permission table");
    let client = &resources(&t)["AdminAppClient"]["Properties"];
    assert_eq!(
        client["GenerateSecret"], false,
        "a browser cannot keep a secret: PKCE"
    );
    assert_eq!(
        as_list(&client["AllowedOAuthFlows"]),
        [&Value::from("code")]
    );
    assert!(
        !as_list(&client["WriteAttributes"])
            .iter()
            .any(|a| a.as_str() == Some("custom:tenant_id")),
        "users cannot bind themselves to a tenant"
    );
}

/// T13, S12, S15: the billing table is reached only by the functions that meter, show
/// or invoice usage, always within tenant partitions; data-plane functions only update
/// (the rate window's conditional ADD), only the generation function and the sweep may
/// also delete (reservations, by conditional transactions), and invoice issuers only
/// create.
#[test]
fn billing_is_tenant_keyed_and_only_metering_changes_it() {
    let t = template();
    let data_plane = data_plane_functions(&t);
    let mut expected = BTreeSet::from([
        "GetTenantUsageFunction",
        "ClosePeriodFunction",
        "ClosePeriodScheduledFunction",
        "ListInvoicesFunction",
        "GetInvoiceFunction",
        "SweepReservationsFunction",
    ]);
    // Every data-plane function counts its requests in the tenant's rate window.
    expected.extend(data_plane.iter().copied());
    assert_eq!(functions_touching(&t, "BillingTable"), expected);
    let claims_nonces: BTreeSet<&str> = statements(&t)
        .into_iter()
        .filter(|(_, s)| {
            as_list(&s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
                .iter()
                .any(|v| v.as_str() == Some("NONCE#*"))
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        claims_nonces, data_plane,
        "every /v1 function may check a signed request"
    );
    for (id, statement) in statements(&t) {
        let on_billing = as_list(&statement["Resource"])
            .iter()
            .any(|r| referenced(r) == Some("BillingTable"));
        if !on_billing {
            continue;
        }
        let prefixes: Vec<&str> =
            as_list(&statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
        // Signed requests' nonces (issue 18): data-plane functions claim them by a
        // conditional put and read one back only after a retried write.
        if prefixes == ["NONCE#*"] {
            assert!(
                data_plane.contains(id),
                "{id}: only the data plane claims nonces"
            );
            for action in actions(statement) {
                assert!(
                    ["dynamodb:PutItem", "dynamodb:GetItem"].contains(&action),
                    "{id}: {action} on nonces"
                );
            }
            continue;
        }
        assert_eq!(prefixes, ["TENANT#*"], "{id}: tenant partitions only");
        for action in actions(statement) {
            let allowed: &[&str] = match id {
                "CreateGenerationFunction" => &[
                    "dynamodb:Query",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                "SweepReservationsFunction" => &[
                    "dynamodb:Query",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                "ClosePeriodFunction" | "ClosePeriodScheduledFunction" => {
                    &["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"]
                }
                "GetUsageFunction" => &["dynamodb:Query", "dynamodb:UpdateItem"],
                id if data_plane.contains(id) => &["dynamodb:UpdateItem"],
                _ => &["dynamodb:Query", "dynamodb:GetItem"],
            };
            assert!(
                allowed.contains(&action),
                "{id}: {action} on the billing table"
            );
        }
    }
    let (_, table) = of_type(&t, "AWS::DynamoDB::Table")
        .find(|(id, _)| *id == "BillingTable")
        .unwrap();
    assert_eq!(
        table["Properties"]["TimeToLiveSpecification"]["AttributeName"], "expires_at",
        "TTL removes old rate windows; reservations use another attribute"
    );
}

fn sub_text(value: &Value) -> &str {
    match value {
        Value::Tagged(t) if t.tag == "Sub" => t.value.as_str().expect("!Sub of a string"),
        other => other.as_str().expect("a string"),
    }
}

/// T10 and the admin page: private, encrypted, versioned bucket read only by the
/// distribution through origin access control; TLS 1.2+ to viewers and to the API origin;
/// the security headers equal the local gateway's, and Cognito returns codes only there.
#[test]
fn the_admin_page_is_private_behind_cloudfront_with_tls12_and_security_headers() {
    let t = template();
    let r = resources(&t);
    let bucket = &r["AdminPageBucket"]["Properties"];
    let block = &bucket["PublicAccessBlockConfiguration"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[setting], true, "{setting}");
    }
    assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled");
    assert!(
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            .as_str()
            .is_some(),
        "encrypted at rest"
    );
    assert_eq!(
        bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"], "BucketOwnerEnforced",
        "no object ACLs on the page bucket"
    );
    assert!(
        bucket.get("WebsiteConfiguration").is_none(),
        "not a public website"
    );

    // The bucket policy: only CloudFront, only GetObject, only this distribution; TLS only.
    let policy = &r["AdminPageBucketPolicy"]["Properties"]["PolicyDocument"];
    let allows: Vec<&Value> = as_list(&policy["Statement"])
        .into_iter()
        .filter(|s| s["Effect"] == "Allow")
        .collect();
    assert_eq!(allows.len(), 1);
    assert_eq!(
        allows[0]["Principal"]["Service"],
        "cloudfront.amazonaws.com"
    );
    assert_eq!(actions(allows[0]), ["s3:GetObject"]);
    assert!(
        sub_text(&allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"])
            .ends_with(":distribution/${AdminPageDistribution}"),
        "scoped to this distribution"
    );
    assert!(
        as_list(&policy["Statement"])
            .iter()
            .any(|s| s["Effect"] == "Deny"
                && s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
    );

    let oac = &r["AdminPageOriginAccessControl"]["Properties"]["OriginAccessControlConfig"];
    assert_eq!(oac["SigningBehavior"], "always");
    assert_eq!(oac["SigningProtocol"], "sigv4");

    let config = &r["AdminPageDistribution"]["Properties"]["DistributionConfig"];
    assert_eq!(
        config["ViewerCertificate"]["MinimumProtocolVersion"],
        "TLSv1.2_2021"
    );
    assert_eq!(config["ViewerCertificate"]["SslSupportMethod"], "sni-only");
    assert!(config["ViewerCertificate"]
        .get("CloudFrontDefaultCertificate")
        .is_none());
    let origins = as_list(&config["Origins"]);
    let page_origin = origins.iter().find(|o| o["Id"] == "admin-page").unwrap();
    assert_eq!(
        referenced(&page_origin["OriginAccessControlId"]),
        Some("AdminPageOriginAccessControl")
    );
    assert_eq!(page_origin["S3OriginConfig"]["OriginAccessIdentity"], "");
    let api_origin = origins.iter().find(|o| o["Id"] == "api").unwrap();
    assert_eq!(
        api_origin["CustomOriginConfig"]["OriginProtocolPolicy"],
        "https-only"
    );
    assert_eq!(
        as_list(&api_origin["CustomOriginConfig"]["OriginSSLProtocols"]),
        [&Value::from("TLSv1.2")]
    );
    let mut behaviors = as_list(&config["CacheBehaviors"]);
    behaviors.push(&config["DefaultCacheBehavior"]);
    for behavior in &behaviors {
        assert!(
            ["redirect-to-https", "https-only"]
                .contains(&behavior["ViewerProtocolPolicy"].as_str().unwrap()),
            "no plain HTTP"
        );
        assert_eq!(
            referenced(&behavior["ResponseHeadersPolicyId"]),
            Some("AdminPageSecurityHeaders"),
            "every behavior sends the security headers"
        );
    }
    // Only the control plane goes through the page's origin, never cached.
    let api_behaviors: Vec<_> = behaviors
        .iter()
        .filter(|b| b["TargetOriginId"] == "api")
        .collect();
    assert_eq!(api_behaviors.len(), 1);
    assert_eq!(api_behaviors[0]["PathPattern"], "/admin/*");
    assert_eq!(
        api_behaviors[0]["CachePolicyId"], "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
        "managed CachingDisabled"
    );

    // The headers: the same as the local gateway's, with Cognito's token endpoint added.
    let headers = &r["AdminPageSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
        ["SecurityHeadersConfig"];
    assert_eq!(
        sub_text(&headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]),
        nutripro_local::admin_page::content_security_policy(&[
            "https://${AdminDomainPrefix}.auth.${AWS::Region}.amazoncognito.com"
        ])
    );
    let hsts = &headers["StrictTransportSecurity"];
    assert_eq!(
        format!(
            "max-age={}; includeSubDomains; preload",
            hsts["AccessControlMaxAgeSec"].as_u64().unwrap()
        ),
        nutripro_local::admin_page::STRICT_TRANSPORT_SECURITY
    );
    assert_eq!(hsts["IncludeSubdomains"], true);
    assert_eq!(hsts["Preload"], true);
    assert_eq!(
        headers["FrameOptions"]["FrameOption"],
        nutripro_local::admin_page::FRAME_OPTIONS
    );
    assert_eq!(
        headers["ReferrerPolicy"]["ReferrerPolicy"],
        nutripro_local::admin_page::REFERRER_POLICY
    );
    assert_eq!(headers["ContentTypeOptions"]["Override"], true);
    for header in [
        "ContentSecurityPolicy",
        "StrictTransportSecurity",
        "FrameOptions",
        "ReferrerPolicy",
    ] {
        assert_eq!(
            headers[header]["Override"], true,
            "{header} overrides the origin's"
        );
    }

    // Cognito sends codes only to the page, over HTTPS.
    let client = &r["AdminAppClient"]["Properties"];
    for list in ["CallbackURLs", "LogoutURLs"] {
        let urls = as_list(&client[list]);
        assert_eq!(urls.len(), 1);
        assert_eq!(sub_text(urls[0]), "https://${AdminPageDomainName}/");
    }
    // Managed login serves the client's sign-in pages only once it has a style.
    let branding = of_type(&t, "AWS::Cognito::ManagedLoginBranding")
        .find(|(_, b)| referenced(&b["Properties"]["ClientId"]) == Some("AdminAppClient"));
    assert!(
        branding.is_some(),
        "the admin app client has a managed login style"
    );
    // What scripts/deploy-admin-page reads.
    for output in [
        "AdminPageUrl",
        "AdminPageBucketName",
        "AdminPageDistributionId",
        "AdminSignInDomain",
        "AdminAppClientId",
    ] {
        assert!(t["Outputs"].get(output).is_some(), "output {output}");
    }
}

// ---------------------------------------------------------------- operations (issue 17)

fn ops_topic_actions(alarm: &Value) -> Vec<&str> {
    as_list(&alarm["Properties"]["AlarmActions"])
        .into_iter()
        .map(|a| referenced(a).expect("an action references a stack resource"))
        .collect()
}

/// A metric an alarm reads: namespace, name, dimensions (name, value).
type AlarmMetric = (String, String, Vec<(String, String)>);

/// Every metric an alarm reads.
fn alarm_metrics(alarm: &Value) -> Vec<AlarmMetric> {
    let p = &alarm["Properties"];
    let dims = |d: &Value| -> Vec<(String, String)> {
        as_list(d)
            .into_iter()
            .map(|x| {
                let value = match &x["Value"] {
                    Value::String(v) => v.clone(),
                    other => referenced(other).unwrap_or("?").to_string(),
                };
                (x["Name"].as_str().unwrap().to_owned(), value)
            })
            .collect()
    };
    if let Some(name) = p["MetricName"].as_str() {
        return vec![(
            p["Namespace"].as_str().unwrap().to_owned(),
            name.to_owned(),
            dims(&p["Dimensions"]),
        )];
    }
    as_list(&p["Metrics"])
        .into_iter()
        .filter_map(|m| {
            let metric = &m["MetricStat"]["Metric"];
            Some((
                metric["Namespace"].as_str()?.to_owned(),
                metric["MetricName"].as_str()?.to_owned(),
                dims(&metric["Dimensions"]),
            ))
        })
        .collect()
}

/// The checkpoint job's re-anchor is off unless an operator deploys one, must name an
/// entry (seq:hash, what `Reanchor::parse` accepts), and reaches no other function.
#[test]
fn the_audit_reanchor_is_empty_by_default_and_only_the_checkpoint_job_reads_it() {
    let t = template();
    let parameter = &t["Parameters"]["AuditCheckpointReanchor"];
    assert_eq!(parameter["Default"], "");
    assert_eq!(parameter["AllowedPattern"], "^$|^[1-9][0-9]*:[0-9a-f]{64}$");
    assert_eq!(
        functions_with_env(&t, "AUDIT_REANCHOR"),
        BTreeSet::from(["AuditCheckpointFunction"])
    );
    assert_eq!(
        referenced(
            &resources(&t)["AuditCheckpointFunction"]["Properties"]["Environment"]["Variables"]
                ["AUDIT_REANCHOR"]
        ),
        Some("AuditCheckpointReanchor")
    );
}

/// A scheduled job has no caller to see it fail: every one's Lambda errors are in the
/// errors alarm (the audit checkpoint job fails on a deleted or rewritten tail).
#[test]
fn every_scheduled_job_failure_raises_the_errors_alarm() {
    let t = template();
    let alarm = &resources(&t)["LambdaErrorsAlarm"];
    let watched: BTreeSet<String> = alarm_metrics(alarm)
        .into_iter()
        .filter(|(n, m, _)| n == "AWS/Lambda" && m == "Errors")
        .flat_map(|(_, _, dims)| dims.into_iter().map(|(_, v)| v))
        .collect();
    let expression = alarm["Properties"]["Metrics"][0]["Expression"]
        .as_str()
        .unwrap();
    let mut jobs = 0;
    for (id, f) in of_type(&t, "AWS::Serverless::Function") {
        let scheduled = f["Properties"]["Events"]
            .as_mapping()
            .is_some_and(|events| events.values().any(|e| e["Type"] == "ScheduleV2"));
        if scheduled {
            jobs += 1;
            assert!(watched.contains(id), "{id}'s errors raise no alarm");
        }
    }
    assert_eq!(jobs, 3);
    for metric in as_list(&alarm["Properties"]["Metrics"]).into_iter().skip(1) {
        let metric_id = metric["Id"].as_str().unwrap();
        assert!(
            expression.contains(&format!("FILL({metric_id}, 0)")),
            "{metric_id} is read but not summed"
        );
    }
}

/// The dashboard's JSON body, as written in the template (a `!Sub` of it).
fn dashboard_body(t: &Value) -> &str {
    let Value::Tagged(body) = &t["Resources"]["Dashboard"]["Properties"]["DashboardBody"] else {
        panic!("the dashboard body is a !Sub")
    };
    body.value[0].as_str().unwrap()
}

/// T07: a checkpoint job that refuses to sign (a deleted or rewritten audit tail) pages on
/// its first failure — it runs every 5 minutes, so it could never reach the errors
/// alarm's five on its own — and the dashboard shows the alarm with the others.
#[test]
fn one_failed_audit_checkpoint_run_pages() {
    let t = template();
    let alarm = &resources(&t)["AuditCheckpointFailuresAlarm"];
    let p = &alarm["Properties"];
    assert_eq!(
        alarm_metrics(alarm),
        vec![(
            "AWS/Lambda".to_owned(),
            "Errors".to_owned(),
            vec![(
                "FunctionName".to_owned(),
                "AuditCheckpointFunction".to_owned()
            )]
        )]
    );
    assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(p["Threshold"], 0);
    assert_eq!(p["EvaluationPeriods"], 1);
    assert_eq!(p["Statistic"], "Sum");
    let schedule = &resources(&t)["AuditCheckpointFunction"]["Properties"]["Events"];
    let every = schedule
        .as_mapping()
        .and_then(|events| {
            events
                .values()
                .find_map(|e| e["Properties"]["ScheduleExpression"].as_str())
        })
        .expect("the job's schedule");
    assert_eq!(every, "rate(5 minutes)");
    assert!(
        p["Period"].as_u64().unwrap() >= 300,
        "a period holds at least one run"
    );
    let dashboard = dashboard_body(&t);
    for (id, _) in of_type(&t, "AWS::CloudWatch::Alarm") {
        assert!(
            dashboard.contains(&format!("${{{id}.Arn}}")),
            "the dashboard shows {id}"
        );
    }
}

/// Every alarm the issue lists exists, reads the metric it is about and tells the
/// operations topic; and every NutriPro metric an alarm reads is one the code writes.
#[test]
fn every_operational_alarm_exists_and_notifies_the_ops_topic() {
    let t = template();
    let alarms: std::collections::BTreeMap<&str, &Value> =
        of_type(&t, "AWS::CloudWatch::Alarm").collect();
    let expected: [(&str, &str, &str); 11] = [
        ("Api5xxRateAlarm", "AWS/ApiGateway", "5XXError"),
        ("LambdaErrorsAlarm", "NutriPro", "Errors"),
        ("LambdaThrottlesAlarm", "AWS/Lambda", "Throttles"),
        (
            "DynamoDbThrottlesAlarm",
            "AWS/DynamoDB",
            "WriteThrottleEvents",
        ),
        ("DynamoDbSystemErrorsAlarm", "NutriPro", "StoreServerErrors"),
        ("UnauthorizedSpikeAlarm", "NutriPro", "Unauthorized"),
        ("GenerationLatencyP99Alarm", "NutriPro", "Latency"),
        ("ReservationsSweptAlarm", "NutriPro", "ReservationsSwept"),
        ("AuditWriteFailuresAlarm", "NutriPro", "AuditWriteFailures"),
        (
            "BillingCloseFailuresAlarm",
            "NutriPro",
            "BillingCloseFailures",
        ),
        ("AuditCheckpointFailuresAlarm", "AWS/Lambda", "Errors"),
    ];
    assert_eq!(
        alarms.len(),
        expected.len(),
        "one alarm per listed condition"
    );
    let written = [
        nutripro_shared::metrics::ERRORS,
        nutripro_shared::metrics::STORE_SERVER_ERRORS,
        nutripro_shared::metrics::STORE_THROTTLED,
        nutripro_shared::metrics::UNAUTHORIZED,
        nutripro_shared::metrics::LATENCY,
        nutripro_shared::metrics::RESERVATIONS_SWEPT,
        nutripro_shared::metrics::AUDIT_WRITE_FAILURES,
        nutripro_shared::metrics::BILLING_CLOSE_FAILURES,
    ];
    for (id, namespace, metric) in expected {
        let alarm = alarms.get(id).unwrap_or_else(|| panic!("no {id}"));
        let read = alarm_metrics(alarm);
        assert!(
            read.iter().any(|(n, m, _)| n == namespace && m == metric),
            "{id} reads {namespace} {metric}: {read:?}"
        );
        for (n, m, _) in &read {
            if n == nutripro_shared::metrics::NAMESPACE {
                assert!(
                    written.contains(&m.as_str()),
                    "{id} reads {m}, which nothing writes"
                );
            }
        }
        assert_eq!(
            ops_topic_actions(alarm),
            ["OpsTopic"],
            "{id} tells the ops topic"
        );
        let description = alarm["Properties"]["AlarmDescription"].clone();
        let description = match &description {
            Value::String(text) => text.clone(),
            other => sub_text(other).to_owned(),
        };
        assert!(
            description.contains("docs/operations.md#"),
            "{id}: a runbook link"
        );
        let anchor = description
            .split("docs/operations.md#")
            .nth(1)
            .unwrap()
            .trim();
        let runbook = nutripro_tests::read_repo_file("docs/operations.md");
        let heading = anchor.replace('-', " ");
        assert!(
            runbook.lines().any(|l| l.starts_with("### ")
                && l[4..].to_lowercase().replace(['`', '%'], "") == heading),
            "{id}: docs/operations.md has no section #{anchor}"
        );
    }
    // The latency alarm is the generation function's p99; the spike alarm an anomaly band.
    let latency = &alarms["GenerationLatencyP99Alarm"]["Properties"];
    assert_eq!(latency["ExtendedStatistic"], "p99");
    assert_eq!(latency["Dimensions"][0]["Value"], "create_generation");
    let spike = &alarms["UnauthorizedSpikeAlarm"]["Properties"];
    assert_eq!(spike["ComparisonOperator"], "GreaterThanUpperThreshold");
    assert!(as_list(&spike["Metrics"]).iter().any(|m| m["Expression"]
        .as_str()
        .is_some_and(|e| e.starts_with("ANOMALY_DETECTION_BAND(unauthorized"))));
    // Every table's throttles are watched.
    let throttled: BTreeSet<String> = alarm_metrics(alarms["DynamoDbThrottlesAlarm"])
        .into_iter()
        .flat_map(|(_, _, d)| d.into_iter().map(|(_, v)| v))
        .collect();
    for (table, _) in of_type(&t, "AWS::DynamoDB::Table") {
        assert!(
            throttled.contains(table),
            "throttles of {table} are watched"
        );
    }
}

/// The operations topic is encrypted with the stack's key; e-mail is a parameter; the
/// budget-alert rule forwards platform events to it.
#[test]
fn the_ops_topic_is_encrypted_and_receives_budget_alerts() {
    let t = template();
    let topic = &t["Resources"]["OpsTopic"];
    assert_eq!(topic["Type"], "AWS::SNS::Topic");
    assert_eq!(
        referenced(&topic["Properties"]["KmsMasterKeyId"]),
        Some("DataKey")
    );
    let email = &t["Resources"]["OpsTopicEmail"];
    assert_eq!(email["Condition"], "HasAlarmEmail");
    assert_eq!(email["Properties"]["Protocol"], "email");
    assert_eq!(
        referenced(&email["Properties"]["Endpoint"]),
        Some("AlarmEmail")
    );
    let rule = &t["Resources"]["BudgetAlertRule"]["Properties"];
    assert_eq!(referenced(&rule["EventBusName"]), Some("EventBus"));
    assert_eq!(
        rule["EventPattern"]["detail-type"][0],
        nutripro_shared::app::budget_alerts::BUDGET_EVENT
    );
    assert_eq!(
        rule["EventPattern"]["source"][0],
        nutripro_shared::ports::events::EVENT_SOURCE
    );
    assert_eq!(referenced(&rule["Targets"][0]["Arn"]), Some("OpsTopic"));
    let generation = &t["Resources"]["CreateGenerationFunction"]["Properties"];
    assert_eq!(
        referenced(&generation["Environment"]["Variables"]["EVENT_BUS_NAME"]),
        Some("EventBus")
    );
    let dashboard = dashboard_body(&t);
    for view in ["SCHEMA(NutriPro, TenantId)", "SCHEMA(NutriPro, Function)"] {
        assert!(
            dashboard.contains(view),
            "the dashboard has the {view} view"
        );
    }
}

/// T12: the regional web ACL on the API stage with the managed rule groups, a per-IP
/// rate rule from a parameter, the two overrides with their reasons, and logging with the
/// Authorization header redacted to a log group WAF accepts.
#[test]
fn the_api_stage_has_a_web_acl_with_managed_rules_rate_limit_and_redacted_logs() {
    let t = template();
    let acl = &t["Resources"]["ApiWebAcl"]["Properties"];
    assert_eq!(acl["Scope"], "REGIONAL");
    let rules = as_list(&acl["Rules"]);
    let groups: BTreeSet<&str> = rules
        .iter()
        .filter_map(|r| r["Statement"]["ManagedRuleGroupStatement"]["Name"].as_str())
        .collect();
    assert_eq!(
        groups,
        BTreeSet::from([
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesSQLiRuleSet",
            "AWSManagedRulesAmazonIpReputationList",
        ])
    );
    let rate = rules
        .iter()
        .find(|r| !r["Statement"]["RateBasedStatement"].is_null())
        .expect("a rate-based rule");
    assert_eq!(
        rate["Statement"]["RateBasedStatement"]["AggregateKeyType"],
        "IP"
    );
    assert_eq!(
        referenced(&rate["Statement"]["RateBasedStatement"]["Limit"]),
        Some("WafRateLimitPerIp")
    );
    assert_eq!(
        rate["Action"]["Block"]["CustomResponse"]["ResponseCode"],
        429
    );
    let common = rules
        .iter()
        .find(|r| {
            r["Statement"]["ManagedRuleGroupStatement"]["Name"] == "AWSManagedRulesCommonRuleSet"
        })
        .unwrap();
    let overridden: BTreeSet<&str> =
        as_list(&common["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"])
            .into_iter()
            .map(|o| {
                assert!(
                    o["ActionToUse"]["Count"].is_mapping(),
                    "counted, not blocked"
                );
                o["Name"].as_str().unwrap()
            })
            .collect();
    assert_eq!(
        overridden,
        BTreeSet::from(["SizeRestrictions_BODY", "NoUserAgent_HEADER"])
    );
    let text = nutripro_tests::read_repo_file("template.yaml");
    for rule in [
        "- Name: SizeRestrictions_BODY",
        "- Name: NoUserAgent_HEADER",
    ] {
        let at = text.find(rule).unwrap();
        let before = &text[..at];
        let reason = before.lines().rev().take(2).collect::<Vec<_>>().join(" ");
        assert!(
            reason.trim_start().starts_with('#'),
            "{rule} has its reason above it"
        );
    }
    for rule in rules {
        assert_eq!(rule["VisibilityConfig"]["CloudWatchMetricsEnabled"], true);
    }
    // Associated with the API's stage.
    let association = &t["Resources"]["ApiWebAclAssociation"]["Properties"];
    assert_eq!(referenced(&association["WebACLArn"]), Some("ApiWebAcl"));
    let stage = sub_text(&association["ResourceArn"]);
    assert!(
        stage.contains("/restapis/${Api}/stages/${Api.Stage}"),
        "{stage}"
    );
    // Logged, the Authorization header redacted, to an aws-waf-logs-* group.
    let logging = &t["Resources"]["ApiWafLogging"]["Properties"];
    assert_eq!(referenced(&logging["ResourceArn"]), Some("ApiWebAcl"));
    assert_eq!(
        logging["RedactedFields"][0]["SingleHeader"]["Name"],
        "authorization"
    );
    let group = &t["Resources"]["ApiWafLogs"]["Properties"];
    assert!(sub_text(&group["LogGroupName"]).starts_with("aws-waf-logs-"));
    assert_eq!(referenced(&group["KmsKeyId"]), Some("DataKey"));
    assert!(sub_text(&logging["LogDestinationConfigs"][0]).ends_with(":log-group:${ApiWafLogs}"));
    // The admin page's distribution takes an optional CLOUDFRONT web ACL.
    let distribution = &t["Resources"]["AdminPageDistribution"]["Properties"]["DistributionConfig"];
    let web_acl = &distribution["WebACLId"];
    assert!(
        matches!(web_acl, Value::Tagged(tag) if tag.tag == "If"),
        "{web_acl:?}"
    );
    assert_eq!(t["Parameters"]["AdminPageWebAclArn"]["Default"], "");
}

/// Reserved concurrency on the generation function, from a parameter (0: none).
#[test]
fn the_generation_function_has_reserved_concurrency() {
    let t = template();
    let reserved =
        &t["Resources"]["CreateGenerationFunction"]["Properties"]["ReservedConcurrentExecutions"];
    let Value::Tagged(tag) = reserved else {
        panic!("ReservedConcurrentExecutions: {reserved:?}")
    };
    assert_eq!(tag.tag, "If");
    assert_eq!(tag.value[0], "HasGenerationReservedConcurrency");
    assert_eq!(
        referenced(&tag.value[1]),
        Some("GenerationReservedConcurrency")
    );
    let parameter = &t["Parameters"]["GenerationReservedConcurrency"];
    assert_eq!(parameter["Default"], 50);
    assert_eq!(parameter["MinValue"], 0);
}

/// T05: a daily AWS Backup of every table, kept for a parameter's days, in a vault
/// encrypted with the stack's key, by a role only AWS Backup can assume.
#[test]
fn every_table_is_backed_up_daily_into_an_encrypted_vault() {
    let t = template();
    let vault = &t["Resources"]["BackupVault"];
    assert_eq!(vault["DeletionPolicy"], "Retain");
    assert_eq!(
        referenced(&vault["Properties"]["EncryptionKeyArn"]),
        Some("DataKey")
    );
    let rules =
        as_list(&t["Resources"]["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"]);
    assert_eq!(rules.len(), 1);
    assert_eq!(
        referenced(&rules[0]["TargetBackupVault"]),
        Some("BackupVault")
    );
    assert!(
        rules[0]["ScheduleExpression"]
            .as_str()
            .unwrap()
            .starts_with("cron(0 3 * * ? *)"),
        "daily"
    );
    assert_eq!(
        referenced(&rules[0]["Lifecycle"]["DeleteAfterDays"]),
        Some("BackupRetentionDays")
    );
    let selection = &t["Resources"]["BackupSelection"]["Properties"];
    assert_eq!(referenced(&selection["BackupPlanId"]), Some("BackupPlan"));
    let selected: BTreeSet<&str> = as_list(&selection["BackupSelection"]["Resources"])
        .into_iter()
        .map(|r| referenced(r).unwrap())
        .collect();
    let tables: BTreeSet<&str> = of_type(&t, "AWS::DynamoDB::Table")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(selected, tables, "every table");
    let role = &t["Resources"]["BackupRole"]["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "backup.amazonaws.com"
    );
}

/// Deploy ergonomics: samconfig.toml names the stack, confirms changesets, has the
/// capabilities the template needs, and holds no account id (nor anything account-like).
#[test]
fn samconfig_is_committed_without_account_ids() {
    let text = nutripro_tests::read_repo_file("samconfig.toml");
    assert!(text.contains("stack_name = \"nutripro\""));
    assert!(text.contains("confirm_changeset = true"));
    assert!(text.contains("CAPABILITY_IAM"));
    let digits = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= 12)
        .collect::<Vec<_>>();
    assert!(
        digits.is_empty(),
        "an account id in samconfig.toml: {digits:?}"
    );
    assert!(
        !text.contains("arn:aws"),
        "no ARNs (they carry account ids)"
    );
    // Every parameter it sets exists in the template.
    let t = template();
    for line in text.lines().filter(|l| l.trim_start().starts_with('"')) {
        let name = line
            .trim()
            .trim_matches(|c| c == '"' || c == ',')
            .split('=')
            .next()
            .unwrap();
        assert!(
            !t["Parameters"][name].is_null(),
            "samconfig sets unknown parameter {name}"
        );
    }
}

/// Issue 18, keyed integrity (T05): the sealing keyring is a KMS-encrypted secret the
/// template generates (never a value in the template), and exactly the functions that
/// seal or check generations get its ARN and may read it.
#[test]
fn the_sealing_keyring_is_a_secret_only_the_generation_functions_read() {
    let t = template();
    let secret = &resources(&t)["SealingKeySecret"]["Properties"];
    assert_eq!(referenced(&secret["KmsKeyId"]), Some("DataKey"));
    assert!(secret["SecretString"].is_null(), "no key in the template");
    let generated = &secret["GenerateSecretString"];
    let shape: serde_json::Value =
        serde_json::from_str(generated["SecretStringTemplate"].as_str().unwrap()).unwrap();
    assert_eq!(
        shape,
        serde_json::json!({"current": "k1", "accept_unkeyed": false})
    );
    assert_eq!(generated["GenerateStringKey"], "k1");
    assert!(generated["PasswordLength"].as_u64().unwrap() >= 32);
    let expected = BTreeSet::from([
        "CreateGenerationFunction",
        "GetGenerationFunction",
        "ListGenerationsFunction",
        "ReviewGenerationFunction",
    ]);
    let readers: BTreeSet<&str> = functions_touching(&t, "SealingKeySecret");
    assert_eq!(readers, expected);
    let with_arn: BTreeSet<&str> = functions_with_env(&t, "SEALING_SECRET_ARN");
    assert_eq!(with_arn, expected);
    // Each decrypts only through Secrets Manager (the statement the policy test checks).
    for id in expected {
        assert!(statements(&t)
            .iter()
            .any(|(f, s)| *f == id && actions(s) == ["kms:Decrypt"]));
    }
}

/// Issue 18, receipts (T08): every function that uses the receipt key has its ARN in
/// `RECEIPT_KEY_ARN` (without it the wiring hands out a key that fails every use, and the
/// answers would go out unsigned), and every function with the variable may use the key.
#[test]
fn every_receipt_signer_is_told_its_key_and_allowed_to_use_it() {
    let t = template();
    let users: BTreeSet<&str> = functions_touching(&t, "ReceiptSigningKey");
    let with_arn: BTreeSet<&str> = functions_with_env(&t, "RECEIPT_KEY_ARN");
    assert_eq!(with_arn, users);
    for id in [
        "CreateGenerationFunction",
        "GetGenerationFunction",
        "CreateSampleFunction",
        "GetSampleFunction",
        "ReceiptKeysFunction",
    ] {
        assert!(
            with_arn.contains(id),
            "{id} answers with or publishes receipts"
        );
    }
}

/// Issue 18, mutual TLS (T01, T10): an optional custom domain with a TLS 1.2+ policy and,
/// with a truststore, client certificates required; with it on, the execute-api URL is
/// off (no way around the domain), and the admin page's CloudFront origin moves to a
/// custom domain without client certificates.
#[test]
fn the_custom_domain_carries_tls12_and_optional_mutual_tls_and_turns_execute_api_off() {
    let t = template();
    let text = nutripro_tests::read_repo_file("template.yaml");
    let parameters = &t["Parameters"];
    assert_eq!(
        parameters["ApiSecurityPolicy"]["AllowedValues"],
        serde_yaml::from_str::<Value>("[TLS_1_2]").unwrap(),
        "no TLS 1.0 policy can be chosen"
    );
    for name in ["ApiDomainName", "ApiCertificateArn", "ApiTruststoreUri"] {
        assert_eq!(parameters[name]["Default"], "", "{name} is optional");
    }
    let domains: Vec<_> = of_type(&t, "AWS::ApiGateway::DomainName").collect();
    assert_eq!(domains.len(), 2, "the API's domain and the admin origin's");
    for (id, domain) in &domains {
        let properties = &domain["Properties"];
        assert!(
            properties["SecurityPolicy"] == "TLS_1_2"
                || referenced(&properties["SecurityPolicy"]) == Some("ApiSecurityPolicy"),
            "{id}"
        );
        assert_eq!(
            properties["EndpointConfiguration"]["Types"],
            serde_yaml::from_str::<Value>("[REGIONAL]").unwrap()
        );
    }
    let api_domain = &resources(&t)["ApiDomain"];
    assert_eq!(api_domain["Condition"], "HasApiDomain");
    // The truststore is used exactly when one is given.
    assert!(
        text.contains("MutualTlsAuthentication: !If\n        - HasMutualTls\n        - TruststoreUri: !Ref ApiTruststoreUri"),
        "mutual TLS on the API domain, conditioned on a truststore"
    );
    assert!(
        text.contains("DisableExecuteApiEndpoint: !If [HasApiDomain, true, false]"),
        "the custom domain turns the execute-api endpoint off"
    );
    assert!(
        text.contains("OriginPath: !If [HasApiDomain, \"\", !Sub \"/${StageName}\"]"),
        "the admin page's API origin follows the custom domain"
    );
    let rules = t["Rules"].as_mapping().expect("Rules");
    assert!(rules.contains_key("MutualTlsNeedsTheDomains"));
    assert!(rules.contains_key("ApiDomainNeedsItsCertificate"));
    for mapping in ["ApiDomainMapping", "AdminApiDomainMapping"] {
        assert_eq!(
            resources(&t)[mapping]["Type"],
            "AWS::ApiGateway::BasePathMapping"
        );
    }
}
