//! Lambda entry point of `get_sample`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_content(nutripro_samples::get_sample).await
}
