//! Matches a request's method and path against the template's routes the way API
//! Gateway does: literal segments beat `{param}` segments, `{name+}` takes the rest,
//! and anything unmatched is no route at all (404 before any authorizer or handler).

use crate::template::TemplateRoute;
use percent_encoding::percent_decode_str;
use std::collections::HashMap;

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

#[derive(Debug)]
struct CompiledRoute {
    route: TemplateRoute,
    segments: Vec<Segment>,
}

/// A matched route and its decoded path parameters.
#[derive(Debug)]
pub struct RouteMatch<'a> {
    pub route: &'a TemplateRoute,
    pub path_parameters: HashMap<String, String>,
}

#[derive(Debug)]
pub struct Router {
    routes: Vec<CompiledRoute>,
}

impl Router {
    pub fn new(routes: Vec<TemplateRoute>) -> Self {
        let routes = routes
            .into_iter()
            .map(|route| {
                let segments = split(&route.path)
                    .map(|segment| {
                        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(name) => match name.strip_suffix('+') {
                                Some(greedy) => Segment::Greedy(greedy.to_owned()),
                                None => Segment::Param(name.to_owned()),
                            },
                            None => Segment::Literal(segment.to_owned()),
                        }
                    })
                    .collect();
                CompiledRoute { route, segments }
            })
            .collect();
        Self { routes }
    }

    pub fn routes(&self) -> impl Iterator<Item = &TemplateRoute> {
        self.routes.iter().map(|r| &r.route)
    }

    /// The best route for `method` and the raw (still percent-encoded) `path`.
    pub fn find(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        let segments: Vec<&str> = split(path).collect();
        self.routes
            .iter()
            .filter(|r| r.route.method.eq_ignore_ascii_case(method))
            .filter_map(|r| Some((r, match_segments(&r.segments, &segments)?)))
            .max_by_key(|(r, _)| {
                r.segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })
            .map(|(r, path_parameters)| RouteMatch {
                route: &r.route,
                path_parameters,
            })
    }
}

/// Path segments. Empty segments (`/v1/me/`, `//v1/me`) are kept, so they match no
/// route: nothing is normalised into a route the caller did not name.
fn split(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

fn decode(segment: &str) -> Option<String> {
    percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn match_segments(pattern: &[Segment], path: &[&str]) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    for (index, segment) in pattern.iter().enumerate() {
        match segment {
            Segment::Greedy(name) => {
                let rest = path
                    .get(index..)
                    .map(|rest| rest.join("/"))
                    .filter(|rest| !rest.is_empty())?;
                params.insert(name.clone(), decode(&rest)?);
                return Some(params);
            }
            Segment::Literal(literal) => {
                if path.get(index) != Some(&literal.as_str()) {
                    return None;
                }
            }
            Segment::Param(name) => {
                let value = decode(path.get(index).filter(|s| !s.is_empty())?)?;
                params.insert(name.clone(), value);
            }
        }
    }
    (pattern.len() == path.len()).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> TemplateRoute {
        TemplateRoute {
            method: method.into(),
            path: path.into(),
            function: format!("{method} {path}"),
            handler: "handler".into(),
            authorizer: Some("auth".into()),
        }
    }

    fn router() -> Router {
        Router::new(vec![
            route("GET", "/v1/me"),
            route("GET", "/v1/samples/{sampleId}"),
            route("GET", "/v1/samples/latest"),
            route("DELETE", "/v1/samples/{sampleId}"),
            route("GET", "/files/{path+}"),
        ])
    }

    #[test]
    fn matches_literals_params_and_greedy_paths() {
        let r = router();
        assert_eq!(r.find("GET", "/v1/me").unwrap().route.path, "/v1/me");
        let m = r.find("GET", "/v1/samples/abc%20d").unwrap();
        assert_eq!(m.route.path, "/v1/samples/{sampleId}");
        assert_eq!(m.path_parameters["sampleId"], "abc d");
        assert_eq!(
            r.find("GET", "/v1/samples/latest").unwrap().route.path,
            "/v1/samples/latest"
        );
        assert_eq!(
            r.find("get", "/files/a/b").unwrap().path_parameters["path"],
            "a/b"
        );
    }

    #[test]
    fn unknown_paths_and_methods_match_nothing() {
        let r = router();
        for (method, path) in [
            ("GET", "/"),
            ("GET", "/v1"),
            ("GET", "/v1/me/extra"),
            ("POST", "/v1/me"),
            ("PUT", "/v1/samples/x"),
            ("GET", "/admin/tenants"),
            ("GET", "/files"),
            ("GET", "/v1/samples/%FF"),
            ("GET", "/v1/me/"),
            ("GET", "//v1/me"),
            ("GET", "/v1/samples/"),
            ("GET", "/files/"),
        ] {
            assert!(r.find(method, path).is_none(), "{method} {path}");
        }
    }
}
