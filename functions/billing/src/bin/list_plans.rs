//! Lambda entry point of `list_plans`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_billing::list_plans).await
}
