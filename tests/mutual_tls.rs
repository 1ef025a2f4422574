//! Issue 18, mutual TLS (the seeds' "use mutual TLS … strict validation of
//! certificates"): the local gateway serves TLS with client-certificate verification
//! against a truststore, as API Gateway's custom domain does; a key bound to a client
//! certificate's SHA-256 fingerprint is refused without exactly that certificate. The
//! certificates come from a throwaway CA made here.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use nutripro_local::llm::LlmChoice;
use nutripro_local::stores::StoreChoice;
use nutripro_local::tls::TlsFiles;
use nutripro_shared::domain::admin::Role;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(&self, names: &[&str], client: bool) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// One HTTPS request to the gateway, presenting `client` (if any); `Err` when the TLS
/// handshake is refused.
async fn request(
    addr: std::net::SocketAddr,
    server_ca: &str,
    client: Option<&Leaf>,
    method: &str,
    path: &str,
    api_key: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(server_ca.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("authorization", format!("Bearer {api_key}"));
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let request = builder
        .body(Full::new(Bytes::from(
            body.map(Value::to_string).unwrap_or_default(),
        )))
        .unwrap();
    // A refused client certificate surfaces at the first read under TLS 1.3.
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn fingerprint(pem: &str) -> String {
    nutripro_shared::domain::api_key::certificate_fingerprint(pem).unwrap()
}

#[tokio::test]
async fn a_key_bound_to_a_client_certificate_is_refused_without_it() {
    let pki = Pki::new("NutriPro test CA");
    let stranger = Pki::new("Someone else's CA");
    let server = pki.leaf(&["localhost"], false);
    let (alice, bob) = (pki.leaf(&["alice"], true), pki.leaf(&["bob"], true));
    let outsider = stranger.leaf(&["mallory"], true);
    let files = tempfile::tempdir().unwrap();
    let tls = TlsFiles {
        cert: write(files.path(), "server.pem", &server.cert_pem),
        key: write(files.path(), "server-key.pem", &server.key_pem),
        client_ca: Some(write(files.path(), "truststore.pem", &pki.ca_pem)),
    };
    let data_dir = tempfile::tempdir().unwrap();
    let gateway = nutripro_local::start_with_tls(
        data_dir.path(),
        &StoreChoice::Sqlite,
        0,
        LlmChoice::offline(),
        Some(&tls),
    )
    .await
    .expect("the gateway serves TLS");
    assert!(gateway.base_url().starts_with("https://"));
    let stack = nutripro_tests::LocalStack::around(gateway, data_dir);
    let boot = stack.bootstrap("Certified Clinic").await;
    let addr = stack.gateway.addr;
    let admin = stack.admin_token(Role::PlatformAdmin, None);

    // Admin calls go over the same mutual TLS (a certificate is required for any
    // connection, as at API Gateway with a truststore).
    let issued = request(
        addr,
        &pki.ca_pem,
        Some(&alice),
        "POST",
        &format!("/admin/tenants/{}/keys", boot.tenant_id),
        &admin,
        Some(&json!({"name": "alice-only", "client_certificate_sha256": fingerprint(&alice.cert_pem).to_uppercase()})),
    )
    .await
    .expect("alice's certificate is trusted");
    assert_eq!(issued.0, 201, "{}", issued.1);
    assert_eq!(
        issued.1["client_certificate_sha256"],
        fingerprint(&alice.cert_pem)
    );
    let bound = issued.1["api_key"].as_str().unwrap().to_owned();

    // The bound key with its certificate: in.
    let me = request(
        addr,
        &pki.ca_pem,
        Some(&alice),
        "GET",
        "/v1/me",
        &bound,
        None,
    )
    .await
    .unwrap();
    assert_eq!(me.0, 200, "{}", me.1);
    // With another certificate of the same CA: refused by the authorizer.
    let other = request(addr, &pki.ca_pem, Some(&bob), "GET", "/v1/me", &bound, None)
        .await
        .unwrap();
    assert_eq!(other.0, 401, "{}", other.1);
    // Without any certificate, or with one the truststore does not vouch for: no
    // connection at all.
    assert!(
        request(addr, &pki.ca_pem, None, "GET", "/v1/me", &bound, None)
            .await
            .is_err()
    );
    assert!(request(
        addr,
        &pki.ca_pem,
        Some(&outsider),
        "GET",
        "/v1/me",
        &bound,
        None
    )
    .await
    .is_err());
    // An unbound key works with any trusted certificate.
    let unbound = request(
        addr,
        &pki.ca_pem,
        Some(&bob),
        "GET",
        "/v1/me",
        &boot.api_key,
        None,
    )
    .await
    .unwrap();
    assert_eq!(unbound.0, 200, "{}", unbound.1);
    // ...until it is bound to one (an existing key, no re-issue), and again after it is
    // unbound.
    let binding = format!(
        "/admin/tenants/{}/keys/{}/client-certificate",
        boot.tenant_id, boot.key_id
    );
    let as_admin = |body: Value| {
        let (binding, admin, ca, alice) = (&binding, &admin, &pki.ca_pem, &alice);
        async move {
            request(addr, ca, Some(alice), "PUT", binding, admin, Some(&body))
                .await
                .unwrap()
        }
    };
    let bound_now =
        as_admin(json!({"client_certificate_sha256": fingerprint(&bob.cert_pem)})).await;
    assert_eq!(bound_now.0, 200, "{}", bound_now.1);
    assert_eq!(
        bound_now.1["client_certificate_sha256"],
        fingerprint(&bob.cert_pem)
    );
    let me_as = |leaf: &'static str| {
        let (ca, key, cert) = (
            &pki.ca_pem,
            &boot.api_key,
            if leaf == "bob" { &bob } else { &alice },
        );
        async move {
            request(addr, ca, Some(cert), "GET", "/v1/me", key, None)
                .await
                .unwrap()
                .0
        }
    };
    assert_eq!(me_as("bob").await, 200);
    assert_eq!(me_as("alice").await, 401, "bound to bob's certificate now");
    // An empty body binds and unbinds nothing.
    assert_eq!(as_admin(json!({})).await.0, 422);
    assert_eq!(me_as("alice").await, 401, "still bound");
    assert_eq!(
        as_admin(json!({"client_certificate_sha256": null})).await.0,
        200
    );
    assert_eq!(me_as("alice").await, 200, "unbound");
    // A malformed fingerprint is refused at issue.
    let bad = request(
        addr,
        &pki.ca_pem,
        Some(&alice),
        "POST",
        &format!("/admin/tenants/{}/keys", boot.tenant_id),
        &admin,
        Some(&json!({"name": "bad", "client_certificate_sha256": "12:34"})),
    )
    .await
    .unwrap();
    assert_eq!(bad.0, 422, "{}", bad.1);
}
