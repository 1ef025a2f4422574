//! Lambda entry point of `issue_key`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_keys::issue_key).await
}
