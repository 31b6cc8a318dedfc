//! The failure detector's thread: every quarter of `node_timeout` (real time) it runs one
//! round of the detector (`crate::detector`, a state machine that reads the cluster's clock
//! through `Registry::detect`) and carries out what it decides.

use super::Registry;
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The detector's thread, stopped and joined on drop.
pub(crate) struct Monitor {
    tx: Sender<()>,
    handle: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Starts watching: a check every quarter of `node_timeout`.
    pub(crate) fn spawn(registry: Arc<Registry>, node_timeout: Duration) -> std::io::Result<Monitor> {
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let period = (node_timeout / 4).max(Duration::from_millis(1));
        let handle =
            std::thread::Builder::new().name("slotstore-monitor".into()).spawn(move || loop {
                match rx.recv_timeout(period) {
                    Err(RecvTimeoutError::Timeout) => registry.detect(),
                    _ => return,
                }
            })?;
        Ok(Monitor { tx, handle: Some(handle) })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.tx.send(());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
