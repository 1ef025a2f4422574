//! Lambda entry point of `get_invoice`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_billing_admin(nutripro_billing::get_invoice).await
}
