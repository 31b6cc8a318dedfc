//! Typed methods for zsets.

use super::Client;

impl Client {}
