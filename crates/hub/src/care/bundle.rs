//! Support bundles: the store's view of the hub (or one camera) gathered into
//! `watchlight_care::bundle::BundleInput`, which scrubs and packs it.
//!
//! The hub keeps no log file of its own (it logs to stderr), so `logs/hub.log` is the
//! hub's activity as the store recorded it: commands with their arguments, availability
//! changes and notifications, oldest first. Secrets the hub knows in clear (webhook
//! secrets, Wi-Fi passphrases sent in commands, its own MQTT token) are the bundle's
//! `known_secrets`: replaced wherever they appear, and a bundle still holding one is
//! refused. Device tokens, sessions, API tokens and the owner's password exist here only
//! as digests, which the bundle leaves out.

use super::{arming, battery, notify};
use crate::state::HubState;
use serde_json::{Value, json};
use watchlight_care::bundle::{
    self, AvailabilityRecord, Bundle, BundleError, BundleInput, EventRecord, FindingRecord, Scope,
    TelemetryRecord,
};
use watchlight_store::StoreError;

/// History a bundle covers.
const HISTORY_MS: u64 = 30 * 86_400_000;
/// Most events and commands per camera.
const PER_CAMERA: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum HubBundleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

/// Builds the bundle for the hub or one camera (which must exist).
pub fn build(hub: &HubState, scope: &Scope) -> Result<Bundle, HubBundleError> {
    let input = gather(hub)?;
    Ok(bundle::build(&input, scope)?)
}

fn gather(hub: &HubState) -> Result<BundleInput, StoreError> {
    let store = &hub.store;
    let now = hub.now();
    let from = now.saturating_sub(HISTORY_MS);
    let mut input = BundleInput {
        generated_ms: now,
        ..BundleInput::default()
    };
    input
        .versions
        .insert("hub".into(), env!("CARGO_PKG_VERSION").into());
    input
        .versions
        .insert("schema".into(), store.schema_version()?.to_string());

    let webhooks = store.webhooks()?;
    input
        .known_secrets
        .extend(webhooks.iter().map(|w| w.secret.clone()));
    if let Ok(t) = std::fs::read_to_string(hub.data_dir.join(crate::HUB_TOKEN_FILE)) {
        input.known_secrets.push(t.trim().to_string());
    }
    input.hub_config = json!({
        "home": hub.home,
        "http_url": hub.http_url,
        "mqtt_url": hub.mqtt_url,
        "tls": hub.cert_pem.is_some(),
        "broker": if hub.broker_devices.is_some() { "embedded" } else { "external" },
        "retention": store.retention_policy()?,
        "notifications": notify::settings(hub)?,
        "webhooks": webhooks.iter().map(|w| json!({
            "id": w.id, "url": w.url, "kinds": w.kinds, "secret": w.secret, "created_ms": w.created_ms,
        })).collect::<Vec<_>>(),
        "arming": arming::json(hub)?,
        "owner": store.owner()?.map(|o| json!({"name": o.name})),
    });

    let mut log: Vec<(u64, String)> = Vec::new();
    for d in store.devices()? {
        let id = d.id.clone();
        let state = store.device_state(&id)?;
        if let Some(s) = &state {
            input
                .versions
                .insert(format!("camera {id}"), s.state.firmware.clone());
        }
        input.devices.insert(
            id.clone(),
            json!({
                "device": {
                    "id": d.id, "serial": d.serial, "name": d.name, "profile": d.profile,
                    "created_ms": d.created_ms, "first_connected_ms": d.first_connected_ms,
                    "removed_ms": d.removed_ms,
                },
                "settings": store.settings(&id).ok(),
                "state": state.as_ref().map(|s| &s.state),
                "availability": hub.computed_availability(&id),
                "battery": battery::json(hub, &id),
            }),
        );
        for c in store.availability_history(&id, from, now + 1)? {
            log.push((
                c.ts_ms,
                format!(
                    "{id} availability {} ({})",
                    c.availability.as_str(),
                    c.reason
                ),
            ));
            input.availability.push(AvailabilityRecord {
                device: id.clone(),
                at_ms: c.ts_ms,
                availability: c.availability.as_str().into(),
                reason: c.reason,
            });
        }
        for t in store.telemetry(&id, from, now + 1)? {
            input.telemetry.push(TelemetryRecord {
                device: id.clone(),
                telemetry: t,
            });
        }
        let mut events = store.events(Some(&id), from, now + 1, PER_CAMERA)?;
        events.reverse();
        input.events.extend(events.into_iter().map(|e| EventRecord {
            device: e.device_id,
            at_ms: e.ts_ms,
            seq: e.seq,
            event: e.kind,
            data: Value::Object(e.data),
        }));
        for c in store.commands(&id, PER_CAMERA)? {
            if let Some(p) = c.args.get("passphrase").and_then(Value::as_str)
                // Shorter ones are not Wi-Fi passphrases (WPA: 8 to 63), and
                // replacing a short string everywhere would garble the bundle.
                && p.len() >= 8
            {
                input.known_secrets.push(p.to_string());
            }
            log.push((
                c.created_ms,
                format!(
                    "{id} command {} {} args {}",
                    c.id,
                    c.name,
                    Value::Object(c.args.clone())
                ),
            ));
        }
    }
    for f in store.findings(None, from, now + 1)? {
        input.findings.push(FindingRecord {
            device: f.camera,
            at_ms: f.at_ms,
            finding: json!({"condition": f.condition, "summary": f.summary}),
        });
    }
    for n in store.care_notifications(None, PER_CAMERA)? {
        let camera = n.camera.clone().unwrap_or_else(|| "hub".into());
        log.push((
            n.at_ms,
            format!("{camera} notification {} {}", n.kind, n.doc),
        ));
    }
    log.sort_by_key(|(t, _)| *t);
    input.hub_log = log
        .into_iter()
        .map(|(t, line)| format!("{t} {line}"))
        .collect();
    Ok(input)
}
