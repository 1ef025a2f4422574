//! Lambda entry point of `put_tenant_settings`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_settings::put_tenant_settings).await
}
