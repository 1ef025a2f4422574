//! Lambda entry point of `delete_sample`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_content(nutripro_samples::delete_sample).await
}
