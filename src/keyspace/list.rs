//! List values.

use crate::bytes::Bytes;
use std::collections::VecDeque;

/// A list of byte strings.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ListValue {
    items: VecDeque<Bytes>,
}

impl ListValue {
    /// Approximate heap bytes held (the list helper replaces this with exact accounting).
    pub(crate) fn mem_usage(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<Bytes>() + self.items.iter().map(|b| b.len() + 16).sum::<usize>()
    }
}
