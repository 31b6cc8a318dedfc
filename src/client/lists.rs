//! Typed methods for lists.

use super::Client;

impl Client {}
