//! Lambda entry point of `get_tenant_settings`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_settings::get_tenant_settings).await
}
