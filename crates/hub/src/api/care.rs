//! Owner services under `/api/v1` (issue 4): reports, notifications, webhooks,
//! arming schedules, support bundles.

use crate::state::Shared;
use axum::Router;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
}
