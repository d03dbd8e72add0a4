//! Not implemented yet.
use crate::error::ApiError;
pub async fn create() -> ApiError {
    ApiError::NotFound("webhooks".into())
}
pub async fn list() -> ApiError {
    ApiError::NotFound("webhooks".into())
}
pub async fn fetch() -> ApiError {
    ApiError::NotFound("webhooks".into())
}
pub async fn delete() -> ApiError {
    ApiError::NotFound("webhooks".into())
}
pub async fn update() -> ApiError {
    ApiError::NotFound("webhooks".into())
}
