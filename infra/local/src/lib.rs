//! `nutripro-local`: the whole API on 127.0.0.1 with the embedded store, no AWS account
//! (or, built with `--features dynamodb`, on the DynamoDB adapters at any endpoint).
//!
//! Routes come from `template.yaml` (compiled in, so the binary serves exactly the
//! template it was built with); authorizers and handlers are the same library code the
//! Lambda binaries run.

pub mod admin_page;
pub mod bootstrap;
pub mod gateway;
pub mod idp;
pub mod llm;
pub mod oauth;
pub mod registry;
pub mod router;
pub mod stores;
pub mod template;
pub mod tls;

use bytes::Bytes;
use gateway::{Gateway, GatewayError};
use llm::LlmChoice;
use nutripro_shared::adapters::local_idp::{LocalIdp, LocalIdpError};
use nutripro_shared::adapters::sqlite::SqliteStore;
use nutripro_shared::domain::Timestamp;
use nutripro_shared::ports::billing::sweep_all;
use nutripro_shared::ports::{StoreError, SystemClock};
use registry::Registry;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use stores::{StoreChoice, Stores};

/// The SAM template this binary serves.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");
/// The OpenAPI document served at `/openapi.yaml`.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.yaml");

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error(transparent)]
    Idp(#[from] LocalIdpError),
    #[error("TLS: {0}")]
    Tls(String),
}

/// Opens the embedded store and the local identity provider in `data_dir` and builds
/// the gateway that will serve at `base_url`.
pub fn open_gateway(
    data_dir: &Path,
    llm: LlmChoice,
    base_url: &str,
) -> Result<Gateway, LocalError> {
    let existed = data_dir.join("nutripro.sqlite3").exists();
    let store = Arc::new(SqliteStore::open(data_dir)?);
    let stores = Stores::from_sqlite(store, format!("SQLite in {}", data_dir.display()))
        .with_data_dir_keys(data_dir, existed)?;
    gateway_on(data_dir, stores, llm, base_url)
}

/// The gateway on `stores`, with the local identity provider of `data_dir`.
pub fn gateway_on(
    data_dir: &Path,
    stores: Stores,
    llm: LlmChoice,
    base_url: &str,
) -> Result<Gateway, LocalError> {
    gateway_with_jwks_at(data_dir, stores, llm, base_url, base_url)
}

/// [`gateway_on`] whose admin authorizer reads the identity provider's keys from
/// `jwks_base` (under mutual TLS the authorizer cannot fetch them from the gateway
/// itself without a client certificate).
fn gateway_with_jwks_at(
    data_dir: &Path,
    stores: Stores,
    llm: LlmChoice,
    base_url: &str,
    jwks_base: &str,
) -> Result<Gateway, LocalError> {
    let identity = Arc::new(LocalIdp::load_or_create(data_dir)?);
    let oauth = Arc::new(oauth::AuthorizationServer::new(
        identity,
        stores.control_plane(),
        base_url,
    ));
    let registry =
        Registry::with_stores(stores, Arc::new(SystemClock), llm, idp::config(jwks_base));
    Ok(Gateway::new(TEMPLATE, registry, OPENAPI)?.with_identity(oauth))
}

/// A listener on `127.0.0.1:port` (0 picks a free port) and the address it got.
async fn bind_loopback(port: u16) -> Result<(tokio::net::TcpListener, SocketAddr), LocalError> {
    let requested = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(requested)
        .await
        .map_err(|e| LocalError::Bind(requested, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| LocalError::Bind(requested, e))?;
    Ok((listener, addr))
}

/// Serves the identity provider's public keys (only them) on a loopback port of its own,
/// over plain HTTP: what the admin authorizer reads when the gateway itself requires
/// client certificates. Stops with `alive`.
async fn serve_jwks(data_dir: &Path, alive: std::sync::Weak<()>) -> Result<String, LocalError> {
    let jwks = Bytes::from(LocalIdp::load_or_create(data_dir)?.jwks_json());
    let (listener, addr) = bind_loopback(0).await?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if alive.upgrade().is_none() {
                return;
            }
            let jwks = jwks.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                    let jwks = jwks.clone();
                    async move {
                        let found = request.uri().path()
                            == nutripro_shared::adapters::local_idp::LOCAL_JWKS_PATH;
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(if found { 200 } else { 404 })
                                .header("content-type", "application/json")
                                .body(http_body_util::Full::new(if found {
                                    jwks
                                } else {
                                    Bytes::new()
                                }))
                                .expect("a static response"),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

/// A gateway serving in the background (tests, benchmarks); stops when dropped.
pub struct RunningGateway {
    pub addr: SocketAddr,
    /// `https` when serving over TLS.
    scheme: &'static str,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The background jobs run while this lives.
    _jobs: Arc<()>,
}

/// How often local mode releases expired budget reservations (in AWS: the
/// `SweepReservationsFunction` schedule, every 5 minutes).
pub const LOCAL_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The scheduled billing job of the template, locally: release expired reservations
/// every [`LOCAL_SWEEP_INTERVAL`] until `alive` is dropped. (The monthly close is
/// `POST /admin/billing/periods/{period}/close` locally.)
fn spawn_reservation_sweep(stores: &Stores, alive: std::sync::Weak<()>) {
    let (billing, tenants) = (stores.billing.clone(), stores.control_plane());
    spawn_every(LOCAL_SWEEP_INTERVAL, alive, move || {
        let (billing, tenants) = (billing.clone(), tenants.clone());
        async move {
            match sweep_all(&*billing, &*tenants, Timestamp::now()).await {
                Ok(0) => {}
                Ok(released) => tracing::info!(released, "released expired reservations"),
                Err(error) => tracing::warn!(%error, "reservation sweep failed"),
            }
        }
    });
}

/// Runs `job` every `interval` (the first time one interval from now) until `alive` is
/// dropped: a schedule of the template, locally.
fn spawn_every<F, Fut>(interval: std::time::Duration, alive: std::sync::Weak<()>, job: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            job().await;
        }
    });
}

/// How often local mode checkpoints the audit chain (in AWS: the
/// `AuditCheckpointFunction` schedule, every 5 minutes).
pub const LOCAL_CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(180);

/// Signs the audit chain's head and keeps it in the stores' checkpoint store, unless the
/// newest checkpoint already names it: what the job reports.
pub async fn write_checkpoint(stores: &Stores) -> Result<serde_json::Value, String> {
    write_checkpoint_reanchored(stores, None).await
}

/// [`write_checkpoint`] with an operator's re-anchor (`checkpoint --reanchor SEQ:HASH`):
/// after the chain was restored to an earlier moment, its head as verify shows it is
/// signed although the newest checkpoint names a later entry.
pub async fn write_checkpoint_reanchored(
    stores: &Stores,
    reanchor: Option<nutripro_shared::domain::audit_checkpoint::Reanchor>,
) -> Result<serde_json::Value, String> {
    let state = nutripro_shared::state::AuditCheckpointState {
        reanchor,
        ..checkpoint_state(stores)
    };
    nutripro_audit::run_checkpoint(&state)
        .await
        .map_err(|e| match e {
            nutripro_shared::app::AppError::IntegrityCheckFailed => "the audit chain no longer \
                holds its newest checkpoint (a deleted or rewritten tail): not signing over it; \
                GET /admin/audit/verify says which (after a restore to an earlier moment: \
                checkpoint --reanchor <head_seq>:<head_hash>)"
                .to_owned(),
            other => other.to_string(),
        })
}

fn checkpoint_state(stores: &Stores) -> nutripro_shared::state::AuditCheckpointState {
    nutripro_shared::state::AuditCheckpointState {
        audit: stores.audit.clone(),
        checkpoints: stores.checkpoints.clone(),
        signer: stores.receipts.clone(),
        clock: Arc::new(nutripro_shared::ports::SystemClock),
        reanchor: None,
    }
}

/// The checkpoint job of the template, locally: every [`LOCAL_CHECKPOINT_INTERVAL`] until
/// `alive` is dropped.
fn spawn_audit_checkpoints(stores: &Stores, alive: std::sync::Weak<()>) {
    let state = Arc::new(checkpoint_state(stores));
    spawn_every(LOCAL_CHECKPOINT_INTERVAL, alive, move || {
        let state = state.clone();
        async move {
            if let Err(error) = nutripro_audit::run_checkpoint(&state).await {
                tracing::warn!(%error, "audit checkpoint failed");
            }
        }
    });
}

impl RunningGateway {
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a gateway on `127.0.0.1:port` (0 picks a free port) in the current runtime,
/// on the embedded store of `data_dir`.
pub async fn start(
    data_dir: &Path,
    port: u16,
    llm: LlmChoice,
) -> Result<RunningGateway, LocalError> {
    start_on(data_dir, &StoreChoice::Sqlite, port, llm).await
}

/// [`start`] on the store `choice` names (the identity provider's key stays in
/// `data_dir`).
pub async fn start_on(
    data_dir: &Path,
    choice: &StoreChoice,
    port: u16,
    llm: LlmChoice,
) -> Result<RunningGateway, LocalError> {
    start_with_tls(data_dir, choice, port, llm, None).await
}

/// [`start_on`], over TLS (and mutual TLS when `tls` names a client CA) when `tls` is
/// given.
pub async fn start_with_tls(
    data_dir: &Path,
    choice: &StoreChoice,
    port: u16,
    llm: LlmChoice,
    tls: Option<&tls::TlsFiles>,
) -> Result<RunningGateway, LocalError> {
    let acceptor = tls
        .map(tls::acceptor)
        .transpose()
        .map_err(LocalError::Tls)?;
    let stores = Stores::open(choice, data_dir).await?;
    let (listener, addr) = bind_loopback(port).await?;
    let jobs = Arc::new(());
    spawn_reservation_sweep(&stores, Arc::downgrade(&jobs));
    spawn_audit_checkpoints(&stores, Arc::downgrade(&jobs));
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://{addr}");
    let jwks_base = if acceptor.is_some() {
        serve_jwks(data_dir, Arc::downgrade(&jobs)).await?
    } else {
        base_url.clone()
    };
    let gateway = Arc::new(gateway_with_jwks_at(
        data_dir, stores, llm, &base_url, &jwks_base,
    )?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve_with(listener, acceptor, async move {
        let _ = stopped.await;
    }));
    Ok(RunningGateway {
        addr,
        scheme,
        stop: Some(stop),
        _jobs: jobs,
    })
}
