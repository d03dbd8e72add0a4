//! Not implemented yet.
use crate::error::ApiError;
pub async fn create() -> ApiError {
    ApiError::NotFound("factors".into())
}
pub async fn list() -> ApiError {
    ApiError::NotFound("factors".into())
}
pub async fn fetch() -> ApiError {
    ApiError::NotFound("factors".into())
}
pub async fn update() -> ApiError {
    ApiError::NotFound("factors".into())
}
pub async fn delete() -> ApiError {
    ApiError::NotFound("factors".into())
}
