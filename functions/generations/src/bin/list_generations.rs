//! Lambda entry point of `list_generations`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_content(nutripro_generations::list_generations).await
}
