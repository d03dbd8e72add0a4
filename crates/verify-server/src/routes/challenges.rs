//! Not implemented yet.
use crate::error::ApiError;
pub async fn create() -> ApiError {
    ApiError::NotFound("challenges".into())
}
pub async fn list() -> ApiError {
    ApiError::NotFound("challenges".into())
}
pub async fn fetch() -> ApiError {
    ApiError::NotFound("challenges".into())
}
pub async fn update() -> ApiError {
    ApiError::NotFound("challenges".into())
}
