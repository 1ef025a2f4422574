//! `nutripro-local` command line:
//!
//! ```text
//! nutripro-local [serve] [--port 3000] [--data-dir DIR] [STORE] [TLS]
//!   TLS: --tls-cert FILE --tls-key FILE [--client-ca FILE] (mutual TLS with --client-ca)
//! nutripro-local bootstrap --tenant-name NAME [--data-dir DIR] [STORE]
//!   STORE: --store sqlite (default) | --store dynamodb --dynamodb-endpoint URL [--table-prefix P]
//! nutripro-local token --role ROLE [--tenant TENANT_ID] [--ttl SECONDS] [--data-dir DIR]
//! nutripro-local backup --to FILE [--data-dir DIR]
//! nutripro-local restore --from FILE --data-dir DIR
//! nutripro-local reseal [--data-dir DIR]
//! nutripro-local checkpoint [--data-dir DIR]
//! ```

use nutripro_local::bootstrap::bootstrap;
use nutripro_local::llm::LlmChoice;
use nutripro_local::stores::{StoreChoice, Stores, DEFAULT_TABLE_PREFIX};
use nutripro_shared::adapters::local_idp::{LocalIdp, TokenRequest, MAX_TTL_SECONDS};
use nutripro_shared::adapters::sqlite::backup;
use nutripro_shared::domain::admin::Role;
use nutripro_shared::domain::audit_checkpoint::Reanchor;
use nutripro_shared::domain::TenantId;
use nutripro_shared::domain::Timestamp;
use nutripro_shared::http::is_id;
use nutripro_shared::telemetry::{self, LogFormat};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
nutripro-local: AI Nutrition-Pro on 127.0.0.1 with an embedded store

USAGE:
    nutripro-local [serve] [--port PORT] [--data-dir DIR] [STORE] [--tls-cert FILE --tls-key FILE [--client-ca FILE]]
    nutripro-local bootstrap --tenant-name NAME [--data-dir DIR] [STORE]
    nutripro-local token --role ROLE [--tenant TENANT_ID] [--ttl SECONDS] [--data-dir DIR]
    nutripro-local backup --to FILE [--data-dir DIR]
    nutripro-local restore --from FILE --data-dir DIR
    nutripro-local reseal [--data-dir DIR]
    nutripro-local checkpoint [--data-dir DIR] [--reanchor SEQ:HASH]

OPTIONS:
    --port PORT          port on 127.0.0.1 to serve on (default 3000; 0 picks a free one)
    --data-dir DIR       where the embedded store and the local identity provider's key live
                         (default: $NUTRIPRO_DATA_DIR or ./local-data)
    --store KIND         sqlite (default: the embedded store in the data directory) or dynamodb
                         (the production DynamoDB adapters; a build with --features dynamodb)
    --dynamodb-endpoint URL
                         with --store dynamodb: any DynamoDB-compatible endpoint (moto, DynamoDB
                         Local, nutripro-faults in front of either, AWS); tables created if missing
    --table-prefix P     with --store dynamodb: table names P + control-plane, content, billing,
                         audit (default nutripro-local-)
    --tls-cert FILE      serve: HTTPS with this PEM certificate chain (and --tls-key FILE, its
                         PEM private key)
    --client-ca FILE     serve, with --tls-cert: mutual TLS, as API Gateway's custom domain with
                         a truststore: every connection must present a client certificate
                         issued by a CA in this PEM file; it reaches the authorizer, and keys
                         bound to a certificate (client_certificate_sha256) need exactly it
    --tenant-name NAME   name of the tenant that bootstrap creates
    --role ROLE          token: platform-admin, onboarding-manager or tenant-manager
    --tenant TENANT_ID   token: the tenant a tenant-manager is bound to (required for it)
    --ttl SECONDS        token: lifetime, 1 to 86400 (default 3600)
    --to FILE            backup: the new file to write (never overwritten); safe while serve runs
    --from FILE          restore: a backup; the data directory's database is moved aside to
                         DIR/before-restore-<time>/ first (stop serve before restoring)
    --reanchor SEQ:HASH  checkpoint: sign this head although the newest checkpoint names a
                         later entry (after a rightful restore to an earlier moment)

`reseal` seals every stored generation with the data directory's current sealing key
(HMAC-SHA256, DATA_DIR/sealing-keys.json) and from then on refuses plain-hash seals.

`checkpoint` signs the audit chain's head with the data directory's service key and keeps
it in DATA_DIR/audit-checkpoints/ (serve does this every few minutes by itself);
GET /admin/audit/verify compares the chain with the newest one. It refuses a chain that
no longer holds the newest checkpoint (a deleted or rewritten tail). After the chain was
rightly restored to an earlier moment, `checkpoint --reanchor SEQ:HASH` (the head_seq and
head_hash verify shows) signs that head anyway — only while the head is exactly it.

`token` prints an admin access token signed by the local identity provider (the key in
the data directory), for `Authorization: Bearer <token>` on /admin routes.
";

/// Writes to stderr in one call and ignores failures: a closed or broken stderr must
/// never bring the server down (`eprintln!` panics on EPIPE, and writes a multi-line
/// message in pieces).
fn say(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Serve {
        port: u16,
        data_dir: PathBuf,
        store: StoreChoice,
        tls: Option<nutripro_local::tls::TlsFiles>,
    },
    Bootstrap {
        tenant_name: String,
        data_dir: PathBuf,
        store: StoreChoice,
    },
    Token {
        role: Role,
        tenant: Option<TenantId>,
        ttl_seconds: i64,
        data_dir: PathBuf,
    },
    Backup {
        to: PathBuf,
        data_dir: PathBuf,
    },
    Restore {
        from: PathBuf,
        data_dir: PathBuf,
    },
    Reseal {
        data_dir: PathBuf,
    },
    Checkpoint {
        data_dir: PathBuf,
        reanchor: Option<Reanchor>,
    },
    Help,
}

const DEFAULT_TOKEN_TTL_SECONDS: i64 = 3600;

fn token_command(
    role: Option<String>,
    tenant: Option<String>,
    ttl: Option<String>,
    data_dir: PathBuf,
) -> Result<Command, String> {
    let role = role.ok_or("token needs --role ROLE")?;
    let role = Role::parse(&role).ok_or_else(|| {
        format!("--role must be platform-admin, onboarding-manager or tenant-manager, not {role:?}")
    })?;
    if let Some(tenant) = &tenant {
        if !is_id(tenant) {
            return Err("--tenant needs a tenant id (32 lowercase hex digits)".into());
        }
    }
    if role == Role::TenantManager && tenant.is_none() {
        return Err("a tenant-manager token needs --tenant TENANT_ID".into());
    }
    let ttl_seconds = match ttl {
        None => DEFAULT_TOKEN_TTL_SECONDS,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|t| (1..=MAX_TTL_SECONDS).contains(t))
            .ok_or("--ttl needs a number of seconds, 1 to 86400")?,
    };
    Ok(Command::Token {
        role,
        tenant: tenant.map(TenantId::new),
        ttl_seconds,
        data_dir,
    })
}

fn parse(args: &[String], default_data_dir: PathBuf) -> Result<Command, String> {
    let mut args = args.iter();
    let mut subcommand = None;
    let (mut port, mut data_dir, mut tenant_name) = (None, None, None);
    let (mut role, mut tenant, mut ttl) = (None, None, None);
    let (mut store_kind, mut endpoint, mut prefix) = (None, None, None);
    let (mut backup_to, mut restore_from, mut data_dir_given) = (None, None, false);
    let (mut tls_cert, mut tls_key, mut client_ca) = (None, None, None);
    let mut reanchor = None;
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok(Command::Help),
            "--port" => {
                port = Some(
                    value("--port")?
                        .parse::<u16>()
                        .map_err(|_| "--port needs a number 0-65535")?,
                )
            }
            "--data-dir" => {
                data_dir = Some(PathBuf::from(value("--data-dir")?));
                data_dir_given = true;
            }
            "--tls-cert" => tls_cert = Some(PathBuf::from(value("--tls-cert")?)),
            "--tls-key" => tls_key = Some(PathBuf::from(value("--tls-key")?)),
            "--client-ca" => client_ca = Some(PathBuf::from(value("--client-ca")?)),
            "--to" => backup_to = Some(PathBuf::from(value("--to")?)),
            "--reanchor" => {
                reanchor = Some(
                    Reanchor::parse(&value("--reanchor")?)
                        .map_err(|why| format!("--reanchor: {why}"))?,
                )
            }
            "--from" => restore_from = Some(PathBuf::from(value("--from")?)),
            "--tenant-name" => tenant_name = Some(value("--tenant-name")?),
            "--role" => role = Some(value("--role")?),
            "--tenant" => tenant = Some(value("--tenant")?),
            "--ttl" => ttl = Some(value("--ttl")?),
            "--store" => store_kind = Some(value("--store")?),
            "--dynamodb-endpoint" => endpoint = Some(value("--dynamodb-endpoint")?),
            "--table-prefix" => prefix = Some(value("--table-prefix")?),
            "serve" | "bootstrap" | "token" | "backup" | "restore" | "reseal" | "checkpoint"
                if subcommand.is_none() =>
            {
                subcommand = Some(arg.clone())
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let data_dir = data_dir.unwrap_or(default_data_dir);
    let subcommand = subcommand.as_deref().unwrap_or("serve");
    // Flags that belong to serve, bootstrap and token: the store commands take none.
    let serve_flags = port.is_some()
        || tenant_name.is_some()
        || role.is_some()
        || tenant.is_some()
        || ttl.is_some()
        || store_kind.is_some()
        || endpoint.is_some()
        || prefix.is_some();
    if subcommand != "serve" && (tls_cert.is_some() || tls_key.is_some() || client_ca.is_some()) {
        return Err("--tls-cert, --tls-key and --client-ca belong to serve".into());
    }
    if subcommand == "reseal" {
        if serve_flags || backup_to.is_some() || restore_from.is_some() {
            return Err("reseal takes --data-dir only (the embedded store)".into());
        }
        return Ok(Command::Reseal { data_dir });
    }
    if subcommand == "checkpoint" {
        if serve_flags || backup_to.is_some() || restore_from.is_some() {
            return Err(
                "checkpoint takes --data-dir and --reanchor only (the embedded store)".into(),
            );
        }
        return Ok(Command::Checkpoint { data_dir, reanchor });
    }
    if reanchor.is_some() {
        return Err("--reanchor belongs to checkpoint".into());
    }
    if matches!(subcommand, "backup" | "restore") {
        if serve_flags {
            return Err(format!(
                "{subcommand} takes --data-dir and {} only (the embedded store)",
                if subcommand == "backup" {
                    "--to"
                } else {
                    "--from"
                }
            ));
        }
        return match (subcommand, backup_to, restore_from) {
            ("backup", Some(to), None) => Ok(Command::Backup { to, data_dir }),
            ("backup", _, _) => Err("backup needs --to FILE (and no --from)".into()),
            ("restore", None, Some(from)) if data_dir_given => {
                Ok(Command::Restore { from, data_dir })
            }
            ("restore", None, Some(_)) => {
                Err("restore needs --data-dir DIR: the directory whose store it replaces".into())
            }
            _ => Err("restore needs --from FILE (and no --to)".into()),
        };
    }
    if backup_to.is_some() || restore_from.is_some() {
        return Err("--to belongs to backup, --from to restore".into());
    }
    if subcommand == "token" {
        if port.is_some()
            || tenant_name.is_some()
            || store_kind.is_some()
            || endpoint.is_some()
            || prefix.is_some()
        {
            return Err("token takes --role, --tenant, --ttl and --data-dir only".into());
        }
        return token_command(role, tenant, ttl, data_dir);
    }
    let store = match (store_kind.as_deref(), endpoint, prefix) {
        (None | Some("sqlite"), None, None) => StoreChoice::Sqlite,
        (None | Some("sqlite"), _, _) => {
            return Err("--dynamodb-endpoint and --table-prefix need --store dynamodb".into())
        }
        (Some("dynamodb"), Some(endpoint), prefix) => {
            if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
                return Err("--dynamodb-endpoint needs an http:// or https:// URL".into());
            }
            let table_prefix = prefix.unwrap_or_else(|| DEFAULT_TABLE_PREFIX.into());
            if table_prefix.is_empty()
                || !table_prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err("--table-prefix: letters, digits, - _ . only".into());
            }
            StoreChoice::DynamoDb {
                endpoint,
                table_prefix,
            }
        }
        (Some("dynamodb"), None, _) => {
            return Err("--store dynamodb needs --dynamodb-endpoint URL".into())
        }
        (Some(other), _, _) => {
            return Err(format!("--store must be sqlite or dynamodb, not {other:?}"))
        }
    };
    if role.is_some() || tenant.is_some() || ttl.is_some() {
        return Err("--role, --tenant and --ttl belong to token".into());
    }
    match subcommand {
        "serve" if tenant_name.is_none() => Ok(Command::Serve {
            port: port.unwrap_or(3000),
            data_dir,
            store,
            tls: match (tls_cert, tls_key, client_ca) {
                (None, None, None) => None,
                (Some(cert), Some(key), client_ca) => Some(nutripro_local::tls::TlsFiles {
                    cert,
                    key,
                    client_ca,
                }),
                _ => {
                    return Err(
                        "--tls-cert and --tls-key come together (--client-ca needs both)".into(),
                    )
                }
            },
        }),
        "serve" => Err("--tenant-name belongs to bootstrap".into()),
        _ if port.is_some() => Err("--port belongs to serve".into()),
        _ => Ok(Command::Bootstrap {
            tenant_name: tenant_name.ok_or("bootstrap needs --tenant-name NAME")?,
            data_dir,
            store,
        }),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let default_data_dir = std::env::var_os("NUTRIPRO_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "local-data".into());
    let command = match parse(&args, default_data_dir) {
        Ok(command) => command,
        Err(message) => {
            say(&format!("error: {message}\n\n{USAGE}\n"));
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            let _ = std::io::stdout().write_all(USAGE.as_bytes());
            ExitCode::SUCCESS
        }
        Command::Serve {
            port,
            data_dir,
            store,
            tls,
        } => serve(port, data_dir, store, tls).await,
        Command::Token {
            role,
            tenant,
            ttl_seconds,
            data_dir,
        } => print_token(role, tenant, ttl_seconds, &data_dir),
        Command::Backup { to, data_dir } => print_outcome(backup::backup(&data_dir, &to)),
        Command::Restore { from, data_dir } => print_outcome(backup::restore(&from, &data_dir)),
        Command::Reseal { data_dir } => reseal(&data_dir).await,
        Command::Checkpoint { data_dir, reanchor } => checkpoint(&data_dir, reanchor).await,
        Command::Bootstrap {
            tenant_name,
            data_dir,
            store,
        } => {
            let store = match Stores::open(&store, &data_dir).await {
                Ok(stores) => stores.control_plane(),
                Err(error) => {
                    say(&format!("error: cannot open the store: {error}\n"));
                    return ExitCode::FAILURE;
                }
            };
            // The key exists once bootstrap answers; if stdout is gone, the exit code says so.
            print_outcome(
                bootstrap(&*store, &tenant_name, Timestamp::now())
                    .await
                    .map(|(printed, _token)| printed),
            )
        }
    }
}

/// Seals every stored generation with the current sealing key, then closes the window
/// for plain-hash seals (threat T05). Safe while `serve` runs (one statement per record).
async fn reseal(data_dir: &Path) -> ExitCode {
    use nutripro_shared::adapters::sqlite::SqliteStore;
    use nutripro_shared::ports::sealing::{FileKeyring, SealingKeys};
    if !data_dir.join("nutripro.sqlite3").exists() {
        say(&format!("error: {} holds no store\n", data_dir.display()));
        return ExitCode::FAILURE;
    }
    let result = async {
        let keys = FileKeyring::open(data_dir, true).map_err(|e| e.to_string())?;
        let keyring = keys.keyring().await.map_err(|e| e.to_string())?;
        let store = SqliteStore::open(data_dir).map_err(|e| e.to_string())?;
        let report = store
            .reseal_generations(&keyring)
            .map_err(|e| e.to_string())?;
        keys.set_accept_unkeyed(false).map_err(|e| e.to_string())?;
        Ok::<_, String>(report)
    }
    .await;
    print_outcome(result)
}

/// Writes a signed checkpoint of the audit chain's head now (threat T07).
async fn checkpoint(data_dir: &Path, reanchor: Option<Reanchor>) -> ExitCode {
    if !data_dir.join("nutripro.sqlite3").exists() {
        say(&format!("error: {} holds no store\n", data_dir.display()));
        return ExitCode::FAILURE;
    }
    let result = async {
        let stores = Stores::open(&StoreChoice::Sqlite, data_dir)
            .await
            .map_err(|e| e.to_string())?;
        nutripro_local::write_checkpoint_reanchored(&stores, reanchor)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    print_outcome(result)
}

/// A command's result as one JSON line on stdout (failure: the error on stderr); a
/// stdout that cannot be written is a failure too.
fn print_outcome<T: serde::Serialize, E: std::fmt::Display>(result: Result<T, E>) -> ExitCode {
    match result {
        Ok(value) => {
            let line = serde_json::to_string(&value).expect("a result serializes") + "\n";
            match std::io::stdout().write_all(line.as_bytes()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            }
        }
        Err(error) => {
            say(&format!("error: {error}\n"));
            ExitCode::FAILURE
        }
    }
}

fn print_token(
    role: Role,
    tenant: Option<TenantId>,
    ttl_seconds: i64,
    data_dir: &Path,
) -> ExitCode {
    let token = LocalIdp::load_or_create(data_dir).and_then(|idp| {
        idp.access_token(
            &TokenRequest::for_role(role, tenant, ttl_seconds),
            Timestamp::now(),
        )
    });
    match token {
        Ok(token) => match std::io::stdout().write_all(format!("{token}\n").as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        },
        Err(error) => {
            say(&format!("error: {error}\n"));
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    port: u16,
    data_dir: PathBuf,
    store: StoreChoice,
    tls: Option<nutripro_local::tls::TlsFiles>,
) -> ExitCode {
    telemetry::init(LogFormat::Text);
    // One server per data directory; `restore` waits for none to run.
    let _lock = match backup::ServeLock::acquire(&data_dir, "serving it again") {
        Ok(lock) => lock,
        Err(error) => {
            say(&format!("error: {error}\n"));
            return ExitCode::FAILURE;
        }
    };
    let llm = match LlmChoice::from_env() {
        Ok(llm) => llm,
        Err(error) => {
            say(&format!("error: {error}\n"));
            return ExitCode::from(2);
        }
    };
    let llm_description = llm.description.clone();
    let store_flags = match &store {
        StoreChoice::Sqlite => String::new(),
        StoreChoice::DynamoDb {
            endpoint,
            table_prefix,
        } => format!(
            " --store dynamodb --dynamodb-endpoint {endpoint} --table-prefix {table_prefix}"
        ),
    };
    let store_description = match &store {
        StoreChoice::Sqlite => format!("SQLite in {}", data_dir.display()),
        StoreChoice::DynamoDb {
            endpoint,
            table_prefix,
        } => format!("DynamoDB at {endpoint}, tables {table_prefix}*"),
    };
    let running =
        match nutripro_local::start_with_tls(&data_dir, &store, port, llm, tls.as_ref()).await {
            Ok(running) => running,
            Err(error) => {
                say(&format!("error: {error}\n"));
                return ExitCode::FAILURE;
            }
        };
    let url = running.base_url();
    let dir = data_dir.display();
    say(&format!(
        "\nAI Nutrition-Pro is serving on {url} (data: {store_description})\n\n\
         Admin page:     {url}/  (sign in with the local identity provider: pick a role)\n\
         OpenAPI:        {url}/openapi.yaml\n\
         LLM:            {llm_description}\n\
         First API key:  cargo run -p nutripro-local -- bootstrap --tenant-name \"My Meal Planner\" --data-dir {dir}{store_flags}\n\
         Then:           curl -H \"Authorization: Bearer $API_KEY\" {url}/v1/me\n\
         Admin token:    cargo run -p nutripro-local -- token --role platform-admin --data-dir {dir}\n\
         Admin API:      curl -H \"Authorization: Bearer $TOKEN\" {url}/admin/tenants\n\n\
         Press Ctrl-C to stop.\n"
    ));
    wait_for_shutdown_signal().await;
    drop(running);
    ExitCode::SUCCESS
}

async fn wait_for_shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn parse_ok(text: &str) -> Command {
        parse(&args(text), "default".into()).unwrap()
    }

    #[test]
    fn serve_is_the_default() {
        assert_eq!(
            parse_ok(""),
            Command::Serve {
                port: 3000,
                data_dir: "default".into(),
                store: StoreChoice::Sqlite,
                tls: None,
            }
        );
        assert_eq!(
            parse_ok("serve --port 0 --data-dir d"),
            Command::Serve {
                port: 0,
                data_dir: "d".into(),
                store: StoreChoice::Sqlite,
                tls: None,
            }
        );
        assert_eq!(
            parse_ok("--port 8080"),
            Command::Serve {
                port: 8080,
                data_dir: "default".into(),
                store: StoreChoice::Sqlite,
                tls: None,
            }
        );
    }

    #[test]
    fn reanchor_belongs_to_checkpoint_and_must_name_an_entry() {
        assert_eq!(
            parse_ok(&format!("checkpoint --reanchor 7:{}", "ab".repeat(32))),
            Command::Checkpoint {
                data_dir: "default".into(),
                reanchor: Some(Reanchor {
                    seq: 7,
                    hash: "ab".repeat(32)
                }),
            }
        );
        assert_eq!(
            parse_ok("checkpoint"),
            Command::Checkpoint {
                data_dir: "default".into(),
                reanchor: None,
            }
        );
        let refused = |text: &str| parse(&args(text), "default".into()).unwrap_err();
        assert!(refused(&format!("serve --reanchor 7:{}", "ab".repeat(32)))
            .contains("belongs to checkpoint"));
        for bad in [
            "7",
            "0:x",
            "x:y",
            &format!("7:{}", "AB".repeat(32)),
            &format!("7:{}", "ab".repeat(31)),
        ] {
            assert!(
                refused(&format!("checkpoint --reanchor {bad}")).contains("--reanchor"),
                "{bad}"
            );
        }
    }

    #[test]
    fn tls_flags_belong_to_serve_and_come_in_pairs() {
        assert_eq!(
            parse_ok("serve --tls-cert c.pem --tls-key k.pem --client-ca ca.pem"),
            Command::Serve {
                port: 3000,
                data_dir: "default".into(),
                store: StoreChoice::Sqlite,
                tls: Some(nutripro_local::tls::TlsFiles {
                    cert: "c.pem".into(),
                    key: "k.pem".into(),
                    client_ca: Some("ca.pem".into()),
                }),
            }
        );
        for bad in [
            "serve --tls-cert c.pem",
            "serve --client-ca ca.pem",
            "bootstrap --tenant-name A --tls-cert c.pem --tls-key k.pem",
            "checkpoint --tls-key k.pem",
        ] {
            assert!(parse(&args(bad), "x".into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_store_is_sqlite_or_dynamodb_at_an_endpoint() {
        assert_eq!(
            parse_ok("serve --store dynamodb --dynamodb-endpoint http://127.0.0.1:8000"),
            Command::Serve {
                port: 3000,
                data_dir: "default".into(),
                store: StoreChoice::DynamoDb {
                    endpoint: "http://127.0.0.1:8000".into(),
                    table_prefix: "nutripro-local-".into(),
                },
                tls: None,
            }
        );
        assert_eq!(
            parse_ok("bootstrap --tenant-name A --store dynamodb --dynamodb-endpoint https://x --table-prefix t-"),
            Command::Bootstrap {
                tenant_name: "A".into(),
                data_dir: "default".into(),
                store: StoreChoice::DynamoDb {
                    endpoint: "https://x".into(),
                    table_prefix: "t-".into(),
                },
            }
        );
        for bad in [
            "serve --store dynamodb",
            "serve --store postgres",
            "serve --dynamodb-endpoint http://x",
            "serve --store dynamodb --dynamodb-endpoint ftp://x",
            "serve --store dynamodb --dynamodb-endpoint http://x --table-prefix a/b",
            "token --role platform-admin --store dynamodb",
        ] {
            assert!(parse(&args(bad), "x".into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn bootstrap_needs_a_tenant_name() {
        assert_eq!(
            parse_ok("bootstrap --tenant-name Acme --data-dir d"),
            Command::Bootstrap {
                tenant_name: "Acme".into(),
                data_dir: "d".into(),
                store: StoreChoice::Sqlite,
            }
        );
        assert!(parse(&args("bootstrap"), "x".into()).is_err());
        assert!(parse(&args("bootstrap --tenant-name A --port 1"), "x".into()).is_err());
    }

    #[test]
    fn token_needs_a_role_and_a_tenant_for_tenant_managers() {
        let tenant = "0193a0e1a1b27c3d8e9f0a1b2c3d4e5f";
        assert_eq!(
            parse_ok(&format!(
                "token --role tenant-manager --tenant {tenant} --ttl 60"
            )),
            Command::Token {
                role: Role::TenantManager,
                tenant: Some(TenantId::new(tenant)),
                ttl_seconds: 60,
                data_dir: "default".into()
            }
        );
        assert_eq!(
            parse_ok("token --role platform-admin --data-dir d"),
            Command::Token {
                role: Role::PlatformAdmin,
                tenant: None,
                ttl_seconds: 3600,
                data_dir: "d".into()
            }
        );
        for bad in [
            "token",
            "token --role admin",
            "token --role tenant-manager",
            "token --role platform-admin --tenant not-an-id",
            "token --role platform-admin --ttl 0",
            "token --role platform-admin --ttl 86401",
            "token --role platform-admin --port 1",
            "serve --role platform-admin",
        ] {
            assert!(parse(&args(bad), "x".into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_unknown_and_incomplete_arguments() {
        for bad in [
            "--verbose",
            "serve serve",
            "--port",
            "--port 70000",
            "serve --tenant-name x",
            "deploy",
        ] {
            assert!(parse(&args(bad), "x".into()).is_err(), "{bad}");
        }
    }
}
