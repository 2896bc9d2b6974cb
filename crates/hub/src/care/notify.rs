//! Notifications out of the hub: the router's notices are stored (the feed, whose row id
//! becomes the notification id), sent on the live stream, published on MQTT and posted
//! to every webhook that wants their kind, each delivery in its own task with retries.

use super::lock;
use crate::state::HubState;
use rumqttc::QoS;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use watchlight_care::notify::{
    CareEvent, Delivery, DeliveryState, Notification, NotificationKind, Router, RouterConfig,
    Webhook,
};
use watchlight_store::{Store, StoreError, notice_kind};

/// Where the switched-off kinds are kept (config table, JSON list of kind names).
const DISABLED_KEY: &str = "care.notifications.disabled";

fn disabled(store: &Store) -> Result<BTreeSet<NotificationKind>, StoreError> {
    match store.config_get(DISABLED_KEY)? {
        None => Ok(BTreeSet::new()),
        Some(doc) => serde_json::from_str(&doc).map_err(|source| StoreError::CorruptJson {
            what: DISABLED_KEY.into(),
            source,
        }),
    }
}

pub(super) fn load_router(store: &Store, home: &str) -> Result<Router, StoreError> {
    let mut config = RouterConfig::new(home);
    config.disabled = disabled(store)?;
    let cameras = store
        .devices()?
        .into_iter()
        .filter(|d| d.removed_ms.is_none())
        .map(|d| d.id);
    Ok(Router::new(config, cameras))
}

/// Each kind and whether it is on.
pub fn settings(hub: &HubState) -> Result<Value, StoreError> {
    let off = disabled(&hub.store)?;
    let map: Map<String, Value> = NotificationKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), json!(!off.contains(k))))
        .collect();
    Ok(Value::Object(map))
}

/// Why a settings change was refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("unknown notification kind '{0}' (known: {1})")]
    UnknownKind(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Switches kinds on or off (`{"motion": false, ...}`); unknown kinds are refused and
/// nothing changes.
pub fn set_enabled(
    hub: &HubState,
    changes: &BTreeMap<String, bool>,
) -> Result<Value, SettingsError> {
    let mut parsed = Vec::new();
    for (name, on) in changes {
        let kind = NotificationKind::ALL
            .iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = NotificationKind::ALL.iter().map(|k| k.as_str()).collect();
                SettingsError::UnknownKind(name.clone(), known.join(", "))
            })?;
        parsed.push((*kind, *on));
    }
    let mut off = disabled(&hub.store)?;
    for (kind, on) in &parsed {
        if *on {
            off.remove(kind);
        } else {
            off.insert(*kind);
        }
    }
    hub.store.config_set(
        DISABLED_KEY,
        &serde_json::to_string(&off).expect("kinds serialize"),
    )?;
    let mut router = lock(&hub.care.router);
    for (kind, on) in parsed {
        router.set_enabled(kind, on);
    }
    drop(router);
    Ok(settings(hub)?)
}

/// Something happened that may be news for the owner: the router decides, then the
/// notices go out.
pub async fn notify(hub: &HubState, event: CareEvent) {
    let now = hub.now();
    // Titles call the camera by the owner's name, as it is now.
    let name = event
        .camera()
        .and_then(|c| hub.store.settings(c).ok().map(|s| (c.to_string(), s.name)));
    let out = {
        let mut router = lock(&hub.care.router);
        if let Some((camera, name)) = name {
            router.set_name(&camera, &name);
        }
        router.handle(now, event)
    };
    dispatch(hub, out).await;
}

/// A finding of the doctor about a camera: kept (reports, bundles) and, unless the same
/// finding was told in the last day or the owner switched doctor findings off, sent.
/// For the doctor's live mode to call.
pub async fn doctor_finding(hub: &HubState, camera: &str, condition: &str, summary: &str) {
    if let Err(e) = hub.store.add_finding(hub.now(), camera, condition, summary) {
        tracing::warn!(camera, "could not store a doctor finding: {e}");
    }
    let event = CareEvent::DoctorFinding {
        camera: camera.into(),
        condition: condition.into(),
        summary: summary.into(),
    };
    let out = lock(&hub.care.router).handle(hub.now(), event);
    send(hub, out).await;
}

/// Sends notices (see [`send`]). A camera whose "offline" goes out (after the router's
/// hold, so not for a flap) is then a case for the doctor.
pub async fn dispatch(hub: &HubState, notices: Vec<Notification>) {
    let offline: Vec<String> = notices
        .iter()
        .filter(|n| n.kind == NotificationKind::CameraOffline)
        .filter_map(|n| n.camera.clone())
        .collect();
    send(hub, notices).await;
    for camera in offline {
        super::doctor::check(hub, &camera).await;
    }
}

/// Sends notices: stored, live stream, MQTT, webhooks. (The doctor's own findings go
/// out through here, not through [`dispatch`], which may ask the doctor.)
async fn send(hub: &HubState, notices: Vec<Notification>) {
    if notices.is_empty() {
        return;
    }
    let hooks = match hub.store.webhooks() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("could not read the webhooks: {e}");
            Vec::new()
        }
    };
    for mut n in notices {
        let doc = serde_json::to_value(&n).expect("notifications serialize");
        match hub
            .store
            .add_care_notification(n.at_ms, n.kind.as_str(), n.camera.as_deref(), &doc)
        {
            Ok(id) => n.id = id as u64,
            Err(e) => tracing::warn!(
                kind = n.kind.as_str(),
                "could not store a notification: {e}"
            ),
        }
        tracing::info!(id = n.id, kind = n.kind.as_str(), camera = ?n.camera, "notification");
        hub.emit(
            "notification",
            n.camera.as_deref(),
            serde_json::to_value(&n).expect("notifications serialize"),
        );
        let topic = Notification::mqtt_topic(&hub.home);
        match hub
            .mqtt
            .publish(topic, QoS::AtLeastOnce, false, n.to_json())
            .await
        {
            Ok(()) => hub.care.sent("notification"),
            Err(e) => tracing::warn!("could not publish a notification: {e}"),
        }
        for row in &hooks {
            let hook = Webhook {
                url: row.url.clone(),
                secret: row.secret.clone(),
                kinds: row
                    .kinds
                    .iter()
                    .filter_map(|k| NotificationKind::ALL.iter().find(|x| x.as_str() == k))
                    .copied()
                    .collect(),
            };
            if hook.wants(n.kind) {
                deliver(hub, &hook, &n, row.id);
            }
        }
    }
}

/// One webhook delivery in its own task; the outcome goes to the metrics.
fn deliver(hub: &HubState, hook: &Webhook, n: &Notification, hook_id: i64) {
    let policy = *lock(&hub.care.retry);
    let mut delivery = Delivery::new(hook, n, policy, hub.now());
    let sender = hub.care.sender.clone();
    let metrics = hub.care.metrics.clone();
    let clock = hub.clock.clone();
    let kind = n.kind;
    let in_flight = hub.care.deliveries.clone();
    in_flight.send_modify(|n| *n += 1);
    tokio::spawn(async move {
        let end = sender.deliver(&mut delivery, clock.as_ref()).await;
        in_flight.send_modify(|n| *n -= 1);
        let delivered = matches!(end, DeliveryState::Delivered { .. });
        lock(&metrics).record_notification(kind.as_str(), delivered);
        if let DeliveryState::Failed {
            attempts,
            last_error,
        } = end
        {
            // The URL may carry a token of the receiver's: name the webhook by id.
            tracing::warn!(
                webhook = hook_id,
                kind = kind.as_str(),
                attempts,
                "webhook delivery failed: {last_error}"
            );
        }
    });
}

/// Routes the storage notices the store wrote since the last look (clips deleted for
/// space, storage full).
pub async fn route_store_notices(hub: &HubState) {
    let after = hub.care.last_notice.load(Ordering::Relaxed);
    let notices = match hub.store.notices_after(after) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("could not read notices: {e}");
            return;
        }
    };
    let Some(last) = notices.last().map(|n| n.id) else {
        return;
    };
    hub.care.last_notice.store(last, Ordering::Relaxed);
    let storage: Vec<_> = notices
        .into_iter()
        .filter(|n| {
            n.kind == notice_kind::STORAGE_FULL || n.kind == notice_kind::CLIPS_DELETED_FOR_SPACE
        })
        .collect();
    if storage.is_empty() {
        return;
    }
    let (used, budget) = storage_use(hub);
    for n in storage {
        let event = CareEvent::Storage {
            used_bytes: used,
            budget_bytes: budget,
            message: n.message,
        };
        notify(hub, event).await;
    }
}

/// Bytes the clips take and the retention budget.
fn storage_use(hub: &HubState) -> (u64, u64) {
    let used = hub.store.clip_usage().map(|(_, b)| b).unwrap_or(0);
    let budget = hub
        .store
        .retention_policy()
        .map(|p| p.max_bytes)
        .unwrap_or(0);
    (used, budget)
}
