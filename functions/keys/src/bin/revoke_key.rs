//! Lambda entry point of `revoke_key`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_keys::revoke_key).await
}
