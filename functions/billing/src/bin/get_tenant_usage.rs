//! Lambda entry point of `get_tenant_usage`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_billing_admin(nutripro_billing::get_tenant_usage).await
}
