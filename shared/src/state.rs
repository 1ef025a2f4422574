//! What content functions are built with, once per cold start.

use crate::ports::content::ContentStore;
use crate::ports::Clock;
use std::sync::Arc;

pub struct ContentState {
    pub store: Arc<dyn ContentStore>,
    pub clock: Arc<dyn Clock>,
}
