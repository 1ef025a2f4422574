//! Lambda entry point of `get_generation`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_content(nutripro_generations::get_generation).await
}
