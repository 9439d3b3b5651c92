//! Receivers' pure halves: decode and validate what clients send, and translate it into the
//! model. No I/O here: the API layer reads bodies and the store persists what comes out.

mod error;
pub mod json_http;
pub mod remote_write;
mod time;

pub use error::InputError;
pub use time::{parse_time_ns, NowNs};
