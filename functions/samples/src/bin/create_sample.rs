//! Lambda entry point of `create_sample`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_content(nutripro_samples::create_sample).await
}
