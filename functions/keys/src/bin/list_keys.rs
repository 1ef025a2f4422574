//! Lambda entry point of `list_keys`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_keys::list_keys).await
}
