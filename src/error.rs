//! Library error type. Every variant names the file (or cell) it is about, so
//! a failure deep in a sweep can be traced back to its input.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {what}")]
    Audio { path: PathBuf, what: String },
    #[error("{path}: {what}")]
    Io { path: PathBuf, what: String },
    #[error("{path}: {what}")]
    Parse { path: PathBuf, what: String },
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {source}")]
    Torch {
        context: String,
        #[source]
        source: tch::TchError,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, e: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            what: e.to_string(),
        }
    }
    pub fn parse(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            what: what.into(),
        }
    }
    pub fn audio(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Error::Audio {
            path: path.into(),
            what: what.into(),
        }
    }
}
