//! The one error the web view sees: `{code, message}`. Every core error keeps its stable
//! [`ErrorCode`] and its sentence (which already says what to do); nothing else crosses.

use keywheel_core::{Error, ErrorCode};
use serde::Serialize;
use ts_rs::TS;

/// A command's failure as the UI receives it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct IpcError {
    /// What the UI branches on.
    pub code: ErrorCode,
    /// A sentence naming the problem and what to do; shown as is.
    pub message: String,
}

impl IpcError {
    /// A bad-input error with its sentence.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::BadInput,
            message: message.into(),
        }
    }

    /// A usage error (an unknown id, a wrong call) with its sentence.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Usage,
            message: message.into(),
        }
    }
}

impl From<Error> for IpcError {
    fn from(e: Error) -> Self {
        Self {
            code: e.code(),
            // The one redactor: a sentence that quotes what a person typed never carries a key.
            message: keywheel_core::keys::redact(&e.to_string()).into_owned(),
        }
    }
}

impl std::fmt::Display for IpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What every command returns.
pub type IpcResult<T> = std::result::Result<T, IpcError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_keep_code_and_sentence() {
        let e: IpcError = Error::BadInput("the image `a.png` is empty; pick another".into()).into();
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["code"], "bad_input");
        assert!(json["message"].as_str().unwrap().contains("a.png"));
        let key = format!("sk-or-v1-{}", "0f".repeat(32));
        let r: IpcError = Error::Usage(format!("no key has the id {key:?}")).into();
        assert!(!r.message.contains(&key[12..]), "{}", r.message);
        let q: IpcError = Error::Cancelled.into();
        assert_eq!(serde_json::to_value(&q).unwrap()["code"], "cancelled");
    }
}
