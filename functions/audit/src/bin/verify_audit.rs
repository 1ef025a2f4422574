//! Lambda entry point of `verify_audit`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_audit::verify_audit).await
}
