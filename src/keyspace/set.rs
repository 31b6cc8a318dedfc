//! Set values.

use crate::bytes::Bytes;

/// A set of byte strings.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SetValue {
    members: Vec<Bytes>,
}
