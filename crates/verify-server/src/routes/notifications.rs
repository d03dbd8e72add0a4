//! Not implemented yet.
use crate::error::ApiError;
pub async fn create() -> ApiError {
    ApiError::NotFound("notifications".into())
}
