//! Sorted set values.

use crate::bytes::Bytes;

/// A set of members ordered by score, then by member bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ZSetValue {
    entries: Vec<(f64, Bytes)>,
}
