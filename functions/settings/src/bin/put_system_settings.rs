//! Lambda entry point of `put_system_settings`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_admin(nutripro_settings::put_system_settings).await
}
