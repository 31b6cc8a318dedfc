//! Typed methods for sets.

use super::Client;

impl Client {}
