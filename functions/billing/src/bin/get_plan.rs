//! Lambda entry point of `get_plan`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_billing::get_plan).await
}
