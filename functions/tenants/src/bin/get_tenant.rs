//! Lambda entry point of `get_tenant`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_tenants::get_tenant).await
}
