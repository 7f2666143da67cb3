pub mod audio;
pub mod corpus;
pub mod error;
pub mod matrix;
pub mod neural;
pub mod pipeline;
pub mod shared;
pub mod text;
pub use error::{Error, Result};
