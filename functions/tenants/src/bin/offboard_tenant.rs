//! Lambda entry point of `offboard_tenant`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_tenants::offboard_tenant).await
}
