//! Not implemented yet.
use crate::error::ApiError;
pub async fn create() -> ApiError { ApiError::NotFound("access_tokens".into()) }
pub async fn fetch() -> ApiError { ApiError::NotFound("access_tokens".into()) }
