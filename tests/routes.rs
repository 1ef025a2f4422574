//! Threat T09: one set of routes. The OpenAPI spec, `template.yaml` and the local
//! gateway must declare exactly the same (method, path) pairs, and every local handler
//! must serve a template route.

use std::collections::BTreeSet;

type RouteSet = BTreeSet<(String, String)>;

fn openapi_routes() -> RouteSet {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(&nutripro_tests::read_repo_file("docs/openapi.yaml")).unwrap();
    let paths = spec["paths"].as_mapping().expect("openapi has paths");
    let mut routes = RouteSet::new();
    for (path, operations) in paths {
        for (method, _) in operations.as_mapping().expect("path item is a mapping") {
            let method = method.as_str().unwrap();
            if ["get", "put", "post", "delete", "patch", "head", "options"].contains(&method) {
                routes.insert((
                    method.to_ascii_uppercase(),
                    path.as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    routes
}

fn template_routes() -> RouteSet {
    let text = nutripro_tests::read_repo_file("template.yaml");
    nutripro_local::template::routes(&text)
        .unwrap()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect()
}

fn local_gateway_routes() -> RouteSet {
    let dir = tempfile::tempdir().unwrap();
    let gateway = nutripro_local::open_gateway(
        dir.path(),
        nutripro_local::llm::LlmChoice::offline(),
        "http://127.0.0.1:9",
    )
    .expect("gateway builds: every route has a handler");
    gateway
        .router()
        .routes()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect()
}

#[test]
fn openapi_template_and_local_gateway_declare_the_same_routes() {
    let template = template_routes();
    assert!(!template.is_empty());
    assert_eq!(
        openapi_routes(),
        template,
        "docs/openapi.yaml vs template.yaml"
    );
    assert_eq!(
        local_gateway_routes(),
        template,
        "local gateway vs template.yaml"
    );
}

#[test]
fn the_gateway_binary_embeds_the_current_template_and_spec() {
    assert_eq!(
        nutripro_local::TEMPLATE,
        nutripro_tests::read_repo_file("template.yaml")
    );
    assert_eq!(
        nutripro_local::OPENAPI,
        nutripro_tests::read_repo_file("docs/openapi.yaml")
    );
}

/// The gateway refuses a template route without a local handler, and a local handler
/// without a template route — so drift fails at startup, not in production.
#[test]
fn gateway_refuses_drift_in_either_direction() {
    use nutripro_local::gateway::{Gateway, GatewayError};
    use nutripro_local::registry::Registry;
    use nutripro_shared::adapters::sqlite::SqliteStore;
    use nutripro_shared::ports::SystemClock;
    use std::sync::Arc;

    let registry = || {
        Registry::new(
            Arc::new(SqliteStore::open_in_memory().unwrap()),
            Arc::new(SystemClock),
            nutripro_local::llm::LlmChoice::offline(),
            nutripro_local::idp::config("http://127.0.0.1:9"),
        )
    };
    let extra_route = nutripro_local::TEMPLATE.replacen(
        "      Events:\n        GetMe:\n",
        "      Events:\n        Extra:\n          Type: Api\n          Properties:\n            RestApiId: !Ref Api\n            Path: /v1/extra\n            Method: GET\n            \n        GetMe:\n",
        1,
    );
    assert_ne!(extra_route, nutripro_local::TEMPLATE);
    let mut without_get_me = registry();
    without_get_me.handlers.remove("get_me");
    assert!(matches!(
        Gateway::new(nutripro_local::TEMPLATE, without_get_me, ""),
        Err(GatewayError::MissingHandler { .. })
    ));
    let renamed = nutripro_local::TEMPLATE.replace("Handler: get_me", "Handler: get_me_renamed");
    assert!(matches!(
        Gateway::new(&renamed, registry(), ""),
        Err(GatewayError::MissingHandler { .. })
    ));
    let mut extra_handler = registry();
    let get_me = extra_handler.handlers["get_me"].clone();
    extra_handler.handlers.insert("orphan", get_me);
    assert!(matches!(
        Gateway::new(nutripro_local::TEMPLATE, extra_handler, ""),
        Err(GatewayError::UnusedHandler(name)) if name == "orphan"
    ));
    assert!(
        Gateway::new(&extra_route, registry(), "").is_ok(),
        "same binary may serve two routes"
    );
}
