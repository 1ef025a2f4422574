//! Lambda entry point of `list_tenants`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_tenants::list_tenants).await
}
