//! Lambda entry point of `list_audit`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_audit::list_audit).await
}
