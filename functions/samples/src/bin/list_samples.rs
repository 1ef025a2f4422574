//! Lambda entry point of `list_samples`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_content(nutripro_samples::list_samples).await
}
