//! The admin page (`admin-page/` at the repository root), compiled into the local gateway
//! so that it serves exactly the page it was built with, and the security headers every
//! page response carries. CloudFront sets the same headers in AWS (the response-headers
//! policy in `template.yaml`); `tests/template.rs` checks the two agree.

/// One file of the admin page.
pub struct PageFile {
    /// URL path (`/` is `index.html`).
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! page_files {
    ($(($path:literal, $file:literal, $type:literal)),* $(,)?) => {
        /// Every file of `admin-page/` (a test checks none is missing from this table).
        pub const FILES: &[PageFile] = &[
            $(PageFile {
                path: $path,
                content_type: $type,
                body: include_bytes!(concat!("../../../admin-page/", $file)),
            }),*
        ];
        /// The file names of `admin-page/` the gateway serves.
        pub const FILE_NAMES: &[&str] = &[$($file),*];
    };
}

page_files![
    ("/", "index.html", "text/html; charset=utf-8"),
    ("/index.html", "index.html", "text/html; charset=utf-8"),
    ("/style.css", "style.css", "text/css; charset=utf-8"),
    ("/app.js", "app.js", "text/javascript; charset=utf-8"),
    ("/auth.js", "auth.js", "text/javascript; charset=utf-8"),
    ("/api.js", "api.js", "text/javascript; charset=utf-8"),
    ("/ui.js", "ui.js", "text/javascript; charset=utf-8"),
    ("/chart.js", "chart.js", "text/javascript; charset=utf-8"),
    (
        "/views/tenants.js",
        "views/tenants.js",
        "text/javascript; charset=utf-8"
    ),
    (
        "/views/keys.js",
        "views/keys.js",
        "text/javascript; charset=utf-8"
    ),
    (
        "/views/settings.js",
        "views/settings.js",
        "text/javascript; charset=utf-8"
    ),
    (
        "/views/billing.js",
        "views/billing.js",
        "text/javascript; charset=utf-8"
    ),
    (
        "/views/audit.js",
        "views/audit.js",
        "text/javascript; charset=utf-8"
    ),
    (
        "/views/system.js",
        "views/system.js",
        "text/javascript; charset=utf-8"
    ),
    (
        "/views/safety.js",
        "views/safety.js",
        "text/javascript; charset=utf-8"
    ),
    ("/favicon.svg", "favicon.svg", "image/svg+xml"),
];

/// The file served at `path`, if the page has one.
pub fn file(path: &str) -> Option<&'static PageFile> {
    FILES.iter().find(|f| f.path == path)
}

/// The Content-Security-Policy of the page: scripts and styles from the page's own
/// origin only (no inline script or style, no eval), API calls to the same origin (the
/// API is behind the same CloudFront distribution in AWS) plus `extra_connect` (the
/// Cognito token endpoint in AWS; nothing locally, where the identity provider is the
/// gateway itself), no framing, no plugins, forms only to the same origin.
pub fn content_security_policy(extra_connect: &[&str]) -> String {
    let mut connect = String::from("'self'");
    for source in extra_connect {
        connect.push(' ');
        connect.push_str(source);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; font-src 'self'; manifest-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
}

/// HSTS: two years, subdomains, preload (browsers ignore it on plain-HTTP loopback, but
/// the local gateway sends what CloudFront sends).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains; preload";
pub const REFERRER_POLICY: &str = "no-referrer";
pub const FRAME_OPTIONS: &str = "DENY";

/// The security headers of every page, sign-in and configuration response, built once
/// (the policy is fixed for the life of the process).
pub fn security_headers() -> &'static [(&'static str, http::HeaderValue)] {
    static HEADERS: std::sync::LazyLock<Vec<(&'static str, http::HeaderValue)>> =
        std::sync::LazyLock::new(|| {
            let csp = http::HeaderValue::from_str(&content_security_policy(&[]))
                .expect("the policy is a valid header value");
            vec![
                ("content-security-policy", csp),
                (
                    "strict-transport-security",
                    http::HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
                ),
                (
                    "x-frame-options",
                    http::HeaderValue::from_static(FRAME_OPTIONS),
                ),
                (
                    "referrer-policy",
                    http::HeaderValue::from_static(REFERRER_POLICY),
                ),
                (
                    "x-content-type-options",
                    http::HeaderValue::from_static("nosniff"),
                ),
            ]
        });
    &HEADERS
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn page_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../admin-page")
    }

    fn files_under(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                files_under(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }

    #[test]
    fn every_file_of_the_page_is_served() {
        let mut on_disk = Vec::new();
        files_under(&page_dir(), "", &mut on_disk);
        // config.json is written at deploy time (and generated locally), never committed.
        on_disk.retain(|f| f != "config.json" && f != "README.md");
        for name in &on_disk {
            assert!(
                FILE_NAMES.contains(&name.as_str()),
                "admin-page/{name} is not in admin_page::FILES"
            );
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let mut on_disk = Vec::new();
        files_under(&page_dir(), "", &mut on_disk);
        for name in on_disk.iter().filter(|n| n.ends_with(".html")) {
            let html = std::fs::read_to_string(page_dir().join(name)).unwrap();
            let lower = html.to_ascii_lowercase();
            for (at, _) in lower.match_indices("<script") {
                let tag_end = lower[at..].find('>').unwrap() + at;
                assert!(
                    lower[at..tag_end].contains(" src="),
                    "{name}: inline <script> at byte {at}"
                );
                assert!(
                    lower[tag_end..].starts_with("></script>"),
                    "{name}: script body"
                );
            }
            assert!(!lower.contains("<style"), "{name}: inline <style>");
            assert!(!lower.contains(" style="), "{name}: style attribute");
            assert!(!lower.contains("javascript:"), "{name}: javascript: URL");
            for handler in [
                " onclick=",
                " onload=",
                " onerror=",
                " onsubmit=",
                " oninput=",
            ] {
                assert!(!lower.contains(handler), "{name}: inline handler {handler}");
            }
        }
        for name in on_disk.iter().filter(|n| n.ends_with(".js")) {
            let js = std::fs::read_to_string(page_dir().join(name)).unwrap();
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
            ] {
                assert!(
                    !js.contains(sink),
                    "{name} uses {sink}: build DOM nodes with textContent"
                );
            }
            assert!(
                !js.contains("localStorage"),
                "{name}: tokens live in sessionStorage only"
            );
        }
    }

    #[test]
    fn the_policy_forbids_inline_code_and_framing() {
        let csp = content_security_policy(&["https://idp.example"]);
        assert!(csp.contains("script-src 'self';"));
        assert!(!csp.contains("unsafe"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("connect-src 'self' https://idp.example;"));
        assert!(csp.starts_with("default-src 'none';"));
    }
}
