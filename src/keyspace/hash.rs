//! Hash values.

use crate::bytes::Bytes;

/// A hash of fields to values.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HashValue {
    pairs: Vec<(Bytes, Bytes)>,
}
