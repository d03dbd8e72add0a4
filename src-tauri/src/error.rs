//! The error the window receives: `{ code, message }`, with the core's stable codes.

use std::sync::Arc;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl CommandError {
    pub fn internal(message: String) -> Self {
        CommandError {
            code: "internal".into(),
            message,
        }
    }
}

impl From<countersign_core::Error> for CommandError {
    fn from(e: countersign_core::Error) -> Self {
        CommandError {
            code: e.code().into(),
            message: e.to_string(),
        }
    }
}

impl From<Arc<countersign_core::Error>> for CommandError {
    fn from(e: Arc<countersign_core::Error>) -> Self {
        CommandError {
            code: e.code().into(),
            message: e.to_string(),
        }
    }
}
