//! The lifecycle routes of the JSON API, read by the dashboard's drift and model
//! panels:
//!
//! - `GET /api/models`: the model history, newest first (`{"items": [ModelRow...]}`);
//! - `GET /api/models/ID`: one model with its training summary and evaluation;
//! - `GET /api/lifecycle`: the latest lifecycle steps, newest first (`?limit=`);
//! - `GET /api/drift`: the drift of the latest windows of live traffic, oldest first
//!   (`{"points": [DriftPoint...]}`, `?limit=`);
//! - `GET /api/allowlist`: the allow patterns from marked false positives.

use crate::api::{Reply, store_error};
use crate::http::ServerState;
use crate::query::Target;

/// Default and largest number of items a route returns.
const DEFAULT_LIMIT: usize = 200;
const MAX_LIMIT: usize = 5_000;

/// Answers a GET on a lifecycle route; `None` when `path` is not one.
pub(crate) fn route(state: &ServerState, path: &[&str], target: &Target) -> Option<Reply> {
    let limit = match target.param("limit").map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) => n.clamp(1, MAX_LIMIT),
        Some(Err(_)) => return Some(Reply::error(400, "limit: expected a non-negative integer")),
    };
    let Some(store) = &state.lifecycle else {
        return Some(Reply::error(
            404,
            "the model lifecycle is kept in the SQLite store; this server has none",
        ));
    };
    let reply = match path {
        ["api", "models"] => match store.models(limit) {
            Ok(items) => Reply::json(200, &serde_json::json!({ "items": items })),
            Err(e) => store_error(&e),
        },
        ["api", "models", id] => {
            let Ok(id) = id.parse::<i64>() else {
                return Some(Reply::error(400, "model id: expected an integer"));
            };
            match store.model(id) {
                Ok(Some(m)) => Reply::json(200, &m),
                Ok(None) => Reply::error(404, "no such model"),
                Err(e) => store_error(&e),
            }
        }
        ["api", "lifecycle"] => match store.events(limit) {
            Ok(items) => Reply::json(200, &serde_json::json!({ "items": items })),
            Err(e) => store_error(&e),
        },
        ["api", "drift"] => match store.drift_points(limit) {
            Ok(points) => Reply::json(200, &serde_json::json!({ "points": points })),
            Err(e) => store_error(&e),
        },
        ["api", "allowlist"] => match store.allow_patterns() {
            Ok(items) => Reply::json(200, &serde_json::json!({ "items": items })),
            Err(e) => store_error(&e),
        },
        _ => return None,
    };
    Some(reply)
}
