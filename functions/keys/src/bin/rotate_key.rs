//! Lambda entry point of `rotate_key`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_keys::rotate_key).await
}
