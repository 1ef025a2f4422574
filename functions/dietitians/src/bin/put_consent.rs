//! Lambda entry point of `put_consent`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_content(nutripro_dietitians::put_consent).await
}
