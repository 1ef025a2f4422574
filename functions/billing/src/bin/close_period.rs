//! Lambda entry point of `close_period`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_billing_admin(nutripro_billing::close_period).await
}
