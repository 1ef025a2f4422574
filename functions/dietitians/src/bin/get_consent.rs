//! Lambda entry point of `get_consent`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_content(nutripro_dietitians::get_consent).await
}
