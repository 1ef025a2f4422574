//! Lambda entry point of `erase_dietitian`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    nutripro_shared::lambda::serve_content(nutripro_dietitians::erase_dietitian).await
}
