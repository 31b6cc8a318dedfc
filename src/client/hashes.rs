//! Typed methods for hashes.

use super::Client;

impl Client {}
