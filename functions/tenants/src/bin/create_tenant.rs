//! Lambda entry point of `create_tenant`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_tenants::create_tenant).await
}
