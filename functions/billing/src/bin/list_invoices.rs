//! Lambda entry point of `list_invoices`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_billing_admin(nutripro_billing::list_invoices).await
}
