//! List values.

use crate::bytes::Bytes;
use std::collections::VecDeque;

/// A list of byte strings.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ListValue {
    items: VecDeque<Bytes>,
}
