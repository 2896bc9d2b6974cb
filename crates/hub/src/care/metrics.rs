//! `/metrics`: the counters care keeps, plus gauges read at scrape time (devices by the
//! hub's computed availability) and the dropped-payload counts the hub keeps by reason.

use super::cameras;
use crate::state::HubState;
use std::collections::BTreeMap;

/// The Prometheus text exposition of the hub's metrics now.
pub fn render(hub: &HubState) -> String {
    let mut by_state: BTreeMap<&'static str, u64> = [
        ("online", 0),
        ("offline", 0),
        ("sleeping", 0),
        ("unknown", 0),
    ]
    .into();
    for d in cameras(hub) {
        let state = hub
            .computed_availability(&d.id)
            .map(|a| a.as_str())
            .unwrap_or("unknown");
        *by_state.entry(state).or_default() += 1;
    }
    let mut m = hub.care.metrics().clone();
    m.set_devices(by_state.iter().map(|(s, n)| (*s, *n)));
    m.set_dropped(hub.dropped_counts());
    m.render()
}
