//! Lists commands.

use super::Spec;

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[];
