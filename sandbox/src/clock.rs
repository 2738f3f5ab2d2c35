//! The sandbox's clock: wall time plus an offset that the control API can
//! move forward, so tests of 30-second codes, 24-hour windows and 72-hour
//! limits need not wait.

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::SystemTime,
};

use crate::world::Millis;

#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> Millis {
        let wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + self.offset_ms.load(Ordering::SeqCst)
    }

    pub fn advance(&self, ms: Millis) {
        self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst);
    }
}
