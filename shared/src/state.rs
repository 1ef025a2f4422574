//! What content and admin functions are built with, once per cold start.

use crate::ports::content::ContentStore;
use crate::ports::{AdminStore, AuditStore, Clock};
use std::sync::Arc;

pub struct ContentState {
    pub store: Arc<dyn ContentStore>,
    pub clock: Arc<dyn Clock>,
}

/// What control-plane (admin) functions are built with.
pub struct AdminState {
    pub store: Arc<dyn AdminStore>,
    pub audit: Arc<dyn AuditStore>,
    pub clock: Arc<dyn Clock>,
}
