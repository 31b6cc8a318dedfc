//! The values a key can hold.

use crate::bytes::Bytes;

/// A stored value. Each Redis data type is one variant; commands check the variant and answer
/// `WRONGTYPE` when it is not theirs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A binary-safe string (also holds integers and floats in their decimal form, as Redis
    /// replies with them).
    Str(Bytes),
}

impl Value {
    /// The name `TYPE` answers.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }
}
