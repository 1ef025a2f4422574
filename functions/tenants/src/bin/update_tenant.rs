//! Lambda entry point of `update_tenant`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_tenants::update_tenant).await
}
