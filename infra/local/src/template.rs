//! Reads the functions and API routes out of `template.yaml`, the single source of
//! routing: each `AWS::Serverless::Function` is the row of the endpoint table its
//! `Handler` names (one Lambda binary serves them all; Lambda passes the `Handler` as
//! `_HANDLER`), and each of its events of type `Api` a route, guarded by the authorizer
//! the API assigns it (the route's own `Auth.Authorizer`, else `DefaultAuthorizer`).

use serde_yaml::Value;
use std::collections::BTreeMap;

/// One route of the deployed API, as the local gateway serves it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TemplateRoute {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template, e.g. `/v1/samples/{sampleId}`.
    pub path: String,
    /// Logical id of the function resource.
    pub function: String,
    /// The function's `Handler`: its row of the endpoint table.
    pub handler: String,
    /// `Handler` of the authorizer function guarding the route; `None` only for routes
    /// that explicitly opt out with `Authorizer: NONE`.
    pub authorizer: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("template.yaml: {0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(message.into())
}

/// The value behind a CloudFormation short-form tag (`!Ref X`, `!GetAtt X.Arn`).
fn tagged<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(tagged) if tagged.tag == tag => Some(&tagged.value),
        _ => None,
    }
}

fn handler_of(resources: &serde_yaml::Mapping, logical_id: &str) -> Result<String, TemplateError> {
    let resource = resources
        .get(logical_id)
        .ok_or_else(|| invalid(format!("resource {logical_id} does not exist")))?;
    resource["Properties"]["Handler"]
        .as_str()
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("function {logical_id} has no Properties.Handler")))
}

/// Every `AWS::Serverless::Function` of the template: (logical id, `Handler`), sorted by
/// logical id — routes, authorizers, triggers and scheduled jobs alike.
pub fn functions(template: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let document: Value = serde_yaml::from_str(template)?;
    let resources = document["Resources"]
        .as_mapping()
        .ok_or_else(|| invalid("no Resources"))?;
    let mut functions = Vec::new();
    for (logical_id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = logical_id
            .as_str()
            .ok_or_else(|| invalid("non-string logical id"))?;
        functions.push((id.to_owned(), handler_of(resources, id)?));
    }
    functions.sort();
    Ok(functions)
}

/// Every API route declared in the template, sorted by path then method.
pub fn routes(template: &str) -> Result<Vec<TemplateRoute>, TemplateError> {
    let document: Value = serde_yaml::from_str(template)?;
    let resources = document["Resources"]
        .as_mapping()
        .ok_or_else(|| invalid("no Resources"))?;
    let mut routes = Vec::new();
    for (logical_id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let function = logical_id
            .as_str()
            .ok_or_else(|| invalid("non-string logical id"))?;
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (event_name, event) in events {
            let event_name = event_name.as_str().unwrap_or("?");
            match event["Type"].as_str() {
                Some("Api") => {}
                Some("Schedule" | "ScheduleV2") => continue,
                other => {
                    return Err(invalid(format!(
                        "{function}.{event_name}: unsupported event type {other:?}"
                    )));
                }
            }
            let properties = &event["Properties"];
            // An Api event without RestApiId lands on SAM's implicit API, which has none
            // of our authorizers: refuse it.
            let api_id = tagged(&properties["RestApiId"], "Ref")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(format!(
                        "{function}.{event_name}: Api event needs RestApiId: !Ref <Api>"
                    ))
                })?;
            let api = &resources.get(api_id).ok_or_else(|| {
                invalid(format!(
                    "{function}.{event_name}: RestApiId {api_id} does not exist"
                ))
            })?;
            if api["Type"].as_str() != Some("AWS::Serverless::Api") {
                return Err(invalid(format!("{api_id} is not an AWS::Serverless::Api")));
            }
            let path = properties["Path"]
                .as_str()
                .ok_or_else(|| invalid(format!("{function}.{event_name}: no Path")))?;
            let method = properties["Method"]
                .as_str()
                .ok_or_else(|| invalid(format!("{function}.{event_name}: no Method")))?
                .to_ascii_uppercase();
            let auth = &api["Properties"]["Auth"];
            let authorizer_name = properties["Auth"]["Authorizer"]
                .as_str()
                .or_else(|| auth["DefaultAuthorizer"].as_str());
            let authorizer = match authorizer_name {
                None | Some("NONE") => None,
                Some(name) => {
                    let arn = &auth["Authorizers"][name]["FunctionArn"];
                    let target = tagged(arn, "GetAtt")
                        .and_then(Value::as_str)
                        .and_then(|t| t.strip_suffix(".Arn"))
                        .ok_or_else(|| {
                            invalid(format!(
                                "authorizer {name} needs FunctionArn: !GetAtt <Function>.Arn"
                            ))
                        })?;
                    Some(handler_of(resources, target)?)
                }
            };
            routes.push(TemplateRoute {
                method,
                path: path.to_owned(),
                function: function.to_owned(),
                handler: handler_of(resources, function)?,
                authorizer,
            });
        }
    }
    routes.sort();
    let mut seen = BTreeMap::new();
    for route in &routes {
        if let Some(other) = seen.insert((&route.method, &route.path), &route.function) {
            return Err(invalid(format!(
                "{} {} is declared by {other} and {}",
                route.method, route.path, route.function
            )));
        }
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      Auth:
        DefaultAuthorizer: KeyAuth
        Authorizers:
          KeyAuth:
            FunctionArn: !GetAtt AuthFn.Arn
  AuthFn:
    Type: AWS::Serverless::Function
    Properties: { Handler: auth_fn }
  ItemFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: item_fn
      Events:
        Get:
          Type: Api
          Properties: { RestApiId: !Ref Api, Path: "/v1/items/{id}", Method: get }
        Health:
          Type: Api
          Properties: { RestApiId: !Ref Api, Path: /health, Method: GET, Auth: { Authorizer: NONE } }
"#;

    #[test]
    fn reads_routes_binaries_and_authorizers() {
        let routes = routes(TEMPLATE).unwrap();
        assert_eq!(
            routes,
            vec![
                TemplateRoute {
                    method: "GET".into(),
                    path: "/health".into(),
                    function: "ItemFn".into(),
                    handler: "item_fn".into(),
                    authorizer: None,
                },
                TemplateRoute {
                    method: "GET".into(),
                    path: "/v1/items/{id}".into(),
                    function: "ItemFn".into(),
                    handler: "item_fn".into(),
                    authorizer: Some("auth_fn".into()),
                },
            ]
        );
    }

    #[test]
    fn lists_every_function_with_its_handler() {
        assert_eq!(
            functions(TEMPLATE).unwrap(),
            vec![
                ("AuthFn".to_owned(), "auth_fn".to_owned()),
                ("ItemFn".to_owned(), "item_fn".to_owned())
            ]
        );
        let unnamed = TEMPLATE.replace("Properties: { Handler: auth_fn }", "Properties: {}");
        assert!(functions(&unnamed)
            .unwrap_err()
            .to_string()
            .contains("Handler"));
    }

    #[test]
    fn refuses_events_on_the_implicit_api() {
        let template = TEMPLATE.replace("RestApiId: !Ref Api, Path: /health", "Path: /health");
        assert!(routes(&template)
            .unwrap_err()
            .to_string()
            .contains("RestApiId"));
    }

    #[test]
    fn refuses_duplicate_routes() {
        let template = TEMPLATE.replace(
            "Path: /health, Method: GET",
            "Path: \"/v1/items/{id}\", Method: GET",
        );
        assert!(routes(&template)
            .unwrap_err()
            .to_string()
            .contains("declared by"));
    }

    #[test]
    fn the_real_template_parses() {
        let routes = routes(crate::TEMPLATE).unwrap();
        assert!(routes
            .iter()
            .any(|r| r.method == "GET" && r.path == "/v1/me"));
    }
}
