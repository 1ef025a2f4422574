//! Lambda entry point of `put_plan`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_billing::put_plan).await
}
