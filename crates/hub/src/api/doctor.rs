//! The doctor under `/api/v1` (issue 6): a camera's case, its diagnosis, and the
//! owner's confirmation of what fixed it.

use crate::state::Shared;
use axum::Router;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
}
