//! Notifications (SPEC §7): what the owner is told, when, and how it leaves the hub.
//!
//! * [`Router`] is sans-IO: it takes [`CareEvent`]s with the hub's time and returns
//!   [`Notification`]s, dropping the types the owner switched off and preventing storms: a
//!   camera's "offline" waits [`RouterConfig::hold_ms`] before it is sent, and when in
//!   that time most of a home's cameras dropped, ONE "network down" notice goes out
//!   instead of one per camera (and one "network back" when they return).
//! * [`Delivery`] is the sans-IO webhook state machine: a signed body, attempts and
//!   exponential backoff; the hub performs the POSTs it decides on.
//! * [`Notification::mqtt_topic`] is where the hub publishes the same JSON over MQTT.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use watchlight_protocol::battery::LOW_RESTING_MV;

/// The kinds of notice; each can be switched off by the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Motion,
    CameraOffline,
    CameraOnline,
    BatteryLow,
    BatteryCritical,
    BatteryForecast,
    Storage,
    DoctorFinding,
    NetworkDown,
    NetworkBack,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 10] = [
        NotificationKind::Motion,
        NotificationKind::CameraOffline,
        NotificationKind::CameraOnline,
        NotificationKind::BatteryLow,
        NotificationKind::BatteryCritical,
        NotificationKind::BatteryForecast,
        NotificationKind::Storage,
        NotificationKind::DoctorFinding,
        NotificationKind::NetworkDown,
        NotificationKind::NetworkBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Motion => "motion",
            NotificationKind::CameraOffline => "camera_offline",
            NotificationKind::CameraOnline => "camera_online",
            NotificationKind::BatteryLow => "battery_low",
            NotificationKind::BatteryCritical => "battery_critical",
            NotificationKind::BatteryForecast => "battery_forecast",
            NotificationKind::Storage => "storage",
            NotificationKind::DoctorFinding => "doctor_finding",
            NotificationKind::NetworkDown => "network_down",
            NotificationKind::NetworkBack => "network_back",
        }
    }
}

/// Something that happened, as the hub learns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CareEvent {
    Motion {
        camera: String,
        clip_id: String,
        thumbnail_url: String,
    },
    CameraOffline {
        camera: String,
    },
    CameraOnline {
        camera: String,
    },
    BatteryLow {
        camera: String,
        percent: f64,
    },
    /// The camera went critical and shut down; `replaced`: fresh batteries have woken it
    /// since (the news reached the hub only then).
    BatteryCritical {
        camera: String,
        #[serde(default)]
        replaced: bool,
    },
    BatteryForecast {
        camera: String,
        days_left: f64,
        summary: String,
    },
    Storage {
        used_bytes: u64,
        budget_bytes: u64,
        message: String,
    },
    DoctorFinding {
        camera: String,
        condition: String,
        summary: String,
    },
}

impl CareEvent {
    /// The camera the event is about, if one.
    pub fn camera(&self) -> Option<&str> {
        match self {
            CareEvent::Motion { camera, .. }
            | CareEvent::CameraOffline { camera }
            | CareEvent::CameraOnline { camera }
            | CareEvent::BatteryLow { camera, .. }
            | CareEvent::BatteryCritical { camera, .. }
            | CareEvent::BatteryForecast { camera, .. }
            | CareEvent::DoctorFinding { camera, .. } => Some(camera),
            CareEvent::Storage { .. } => None,
        }
    }
}

/// One notice for the owner: the JSON body of webhooks, MQTT and the live feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Unique per router, increasing: receivers de-duplicate retried deliveries by it.
    pub id: u64,
    pub kind: NotificationKind,
    pub at_ms: u64,
    pub home: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Kind-specific fields (clip id, percent, days left, cameras of an outage, ...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl Notification {
    /// The MQTT topic the hub publishes notifications on (not retained).
    pub fn mqtt_topic(home: &str) -> String {
        format!(
            "{}/{home}/{}/notification",
            watchlight_protocol::topics::ROOT,
            watchlight_protocol::topics::HUB_DEVICE
        )
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("notifications always serialize")
    }
}

/// Storm control and switches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouterConfig {
    pub home: String,
    /// How long a camera's "offline" waits for others before it is sent (and within which a
    /// return cancels it: a flap is not news).
    pub hold_ms: u64,
    /// Share of the home's cameras offline at once that means "the network is down".
    pub outage_share: f64,
    /// Fewest cameras for an outage (one camera of one is just that camera).
    pub outage_min_cameras: usize,
    /// Kinds the owner switched off.
    pub disabled: BTreeSet<NotificationKind>,
    /// A repeat of the same battery, storage or doctor notice (same kind, camera and, for
    /// the doctor, condition) within this time is dropped: the hub may re-derive them on
    /// every telemetry message, the owner needs to hear once a day at most.
    pub repeat_ms: u64,
}

impl RouterConfig {
    pub fn new(home: impl Into<String>) -> RouterConfig {
        RouterConfig {
            home: home.into(),
            hold_ms: 60_000,
            outage_share: 0.6,
            outage_min_cameras: 2,
            disabled: BTreeSet::new(),
            repeat_ms: 24 * 3_600_000,
        }
    }
}

/// The sans-IO notification router of one home.
#[derive(Debug, Clone)]
pub struct Router {
    config: RouterConfig,
    cameras: BTreeSet<String>,
    /// Cameras offline whose notice waits, with when they dropped.
    held: BTreeMap<String, u64>,
    /// Cameras the owner was told are offline (individually).
    told_offline: BTreeSet<String>,
    /// During an outage: the cameras still down.
    outage: Option<BTreeSet<String>>,
    /// When each repeatable notice was last sent, by (kind, camera, condition).
    last_sent: BTreeMap<(NotificationKind, String, String), u64>,
    /// The owner's name of each camera, for titles (the device id until known).
    names: BTreeMap<String, String>,
    next_id: u64,
}

impl Router {
    pub fn new(config: RouterConfig, cameras: impl IntoIterator<Item = String>) -> Router {
        Router {
            config,
            cameras: cameras.into_iter().collect(),
            held: BTreeMap::new(),
            told_offline: BTreeSet::new(),
            outage: None,
            last_sent: BTreeMap::new(),
            names: BTreeMap::new(),
            next_id: 1,
        }
    }

    /// The home's cameras changed (paired or removed).
    pub fn set_cameras(&mut self, cameras: impl IntoIterator<Item = String>) {
        self.cameras = cameras.into_iter().collect();
        let known = self.cameras.clone();
        self.held.retain(|c, _| known.contains(c));
        self.told_offline.retain(|c| known.contains(c));
    }

    /// The name the owner gave `camera`, used in titles from now on.
    pub fn set_name(&mut self, camera: &str, name: &str) {
        if name.trim().is_empty() {
            self.names.remove(camera);
        } else {
            self.names.insert(camera.to_string(), name.to_string());
        }
    }

    /// How titles call `camera`: its owner's name, else its device id.
    fn name(&self, camera: &str) -> String {
        self.names
            .get(camera)
            .cloned()
            .unwrap_or_else(|| camera.to_string())
    }

    /// Fresh batteries went into `camera`: its next low or critical battery is news again
    /// even within the repeat window.
    pub fn battery_replaced(&mut self, camera: &str) {
        self.last_sent.retain(|(kind, c, _), _| {
            c != camera
                || !matches!(
                    kind,
                    NotificationKind::BatteryLow | NotificationKind::BatteryCritical
                )
        });
    }

    /// Switches a kind on or off.
    pub fn set_enabled(&mut self, kind: NotificationKind, on: bool) {
        if on {
            self.config.disabled.remove(&kind);
        } else {
            self.config.disabled.insert(kind);
        }
    }

    /// When [`Router::poll`] should next be called, if something waits.
    pub fn next_deadline(&self) -> Option<u64> {
        self.held.values().min().map(|t| t + self.config.hold_ms)
    }

    fn make(
        &mut self,
        kind: NotificationKind,
        now_ms: u64,
        camera: Option<&str>,
        title: String,
        data: serde_json::Value,
    ) -> Option<Notification> {
        if self.config.disabled.contains(&kind) {
            return None;
        }
        if matches!(
            kind,
            NotificationKind::BatteryLow
                | NotificationKind::BatteryCritical
                | NotificationKind::BatteryForecast
                | NotificationKind::Storage
                | NotificationKind::DoctorFinding
        ) {
            let condition = data
                .get("condition")
                .and_then(|c| c.as_str())
                .unwrap_or("")
                .to_string();
            let key = (kind, camera.unwrap_or("").to_string(), condition);
            if let Some(last) = self.last_sent.get(&key)
                && now_ms < last + self.config.repeat_ms
            {
                return None;
            }
            self.last_sent.insert(key, now_ms);
        }
        let id = self.next_id;
        self.next_id += 1;
        let data = match data {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        Some(Notification {
            id,
            kind,
            at_ms: now_ms,
            home: self.config.home.clone(),
            camera: camera.map(str::to_string),
            title,
            thumbnail_url: None,
            data,
        })
    }

    fn outage_threshold(&self) -> usize {
        let share = (self.cameras.len() as f64 * self.config.outage_share).ceil() as usize;
        share.max(self.config.outage_min_cameras)
    }

    /// Takes one event; returns the notices due now.
    pub fn handle(&mut self, now_ms: u64, event: CareEvent) -> Vec<Notification> {
        use serde_json::json;
        let mut out = self.poll(now_ms);
        let made = match event {
            CareEvent::Motion {
                camera,
                clip_id,
                thumbnail_url,
            } => self
                .make(
                    NotificationKind::Motion,
                    now_ms,
                    Some(&camera),
                    format!("Motion at {}", self.name(&camera)),
                    json!({ "clip_id": clip_id }),
                )
                .map(|mut n| {
                    n.thumbnail_url = Some(thumbnail_url);
                    n
                }),
            CareEvent::CameraOffline { camera } => {
                if let Some(down) = self.outage.as_mut() {
                    down.insert(camera);
                } else if !self.told_offline.contains(&camera) {
                    self.held.entry(camera).or_insert(now_ms);
                    out.extend(self.check_outage(now_ms));
                }
                None
            }
            CareEvent::CameraOnline { camera } => self.camera_back(now_ms, camera, &mut out),
            CareEvent::BatteryLow { camera, percent } => {
                let name = self.name(&camera);
                // Low can come from the voltage under load alone (cold, worn cells) while
                // the charge at rest is above the low mark: that percent would contradict
                // the notice.
                let title = if percent <= crate::battery::charge_percent(LOW_RESTING_MV) {
                    format!("Battery low on {name} ({percent:.0} %)")
                } else {
                    format!("Battery low on {name}: it sags under load (cold or worn cells)")
                };
                self.make(
                    NotificationKind::BatteryLow,
                    now_ms,
                    Some(&camera),
                    title,
                    json!({ "percent": percent }),
                )
            }
            CareEvent::BatteryCritical { camera, replaced } => {
                let name = self.name(&camera);
                let title = if replaced {
                    format!("{name} shut down on a critical battery; fresh batteries woke it")
                } else {
                    format!("Battery critical on {name}: it shut down; replace the batteries")
                };
                self.make(
                    NotificationKind::BatteryCritical,
                    now_ms,
                    Some(&camera),
                    title,
                    json!({ "replaced": replaced }),
                )
            }
            CareEvent::BatteryForecast {
                camera,
                days_left,
                summary,
            } => self.make(
                NotificationKind::BatteryForecast,
                now_ms,
                Some(&camera),
                format!(
                    "Replace the batteries of {} within {days_left:.0} days",
                    self.name(&camera)
                ),
                json!({ "days_left": days_left, "summary": summary }),
            ),
            CareEvent::Storage {
                used_bytes,
                budget_bytes,
                message,
            } => self.make(
                NotificationKind::Storage,
                now_ms,
                None,
                message,
                json!({ "used_bytes": used_bytes, "budget_bytes": budget_bytes }),
            ),
            CareEvent::DoctorFinding {
                camera,
                condition,
                summary,
            } => self.make(
                NotificationKind::DoctorFinding,
                now_ms,
                Some(&camera),
                summary,
                json!({ "condition": condition }),
            ),
        };
        out.extend(made);
        out
    }

    fn camera_back(
        &mut self,
        now_ms: u64,
        camera: String,
        out: &mut Vec<Notification>,
    ) -> Option<Notification> {
        if let Some(down) = self.outage.as_mut() {
            down.remove(&camera);
            if down.len() < self.outage_threshold() {
                let still_down = self.outage.take().unwrap_or_default();
                let back: Vec<&String> = self
                    .cameras
                    .iter()
                    .filter(|c| !still_down.contains(*c))
                    .collect();
                let data = serde_json::json!({ "cameras": back, "still_offline": still_down });
                out.extend(self.make(
                    NotificationKind::NetworkBack,
                    now_ms,
                    None,
                    "The network is back: cameras are online again".into(),
                    data,
                ));
                // Those still down are now news of their own.
                for c in still_down {
                    self.held.insert(c, now_ms);
                }
            }
            return None;
        }
        if self.held.remove(&camera).is_some() {
            return None; // a flap inside the hold time
        }
        if self.told_offline.remove(&camera) {
            return self.make(
                NotificationKind::CameraOnline,
                now_ms,
                Some(&camera),
                format!("{} is back online", self.name(&camera)),
                serde_json::json!({}),
            );
        }
        None
    }

    fn check_outage(&mut self, now_ms: u64) -> Option<Notification> {
        let down: BTreeSet<String> = self
            .held
            .keys()
            .chain(self.told_offline.iter())
            .cloned()
            .collect();
        if down.len() < self.outage_threshold() {
            return None;
        }
        self.held.clear();
        self.told_offline.clear();
        let data = serde_json::json!({ "cameras": down, "of": self.cameras.len() });
        let n = self.make(
            NotificationKind::NetworkDown,
            now_ms,
            None,
            format!(
                "Network down: {} of {} cameras went offline together",
                down.len(),
                self.cameras.len()
            ),
            data,
        );
        self.outage = Some(down);
        n
    }

    /// Sends the offline notices whose hold time is over.
    pub fn poll(&mut self, now_ms: u64) -> Vec<Notification> {
        let due: Vec<String> = self
            .held
            .iter()
            .filter(|(_, t)| now_ms >= *t + self.config.hold_ms)
            .map(|(c, _)| c.clone())
            .collect();
        let mut out = Vec::new();
        for camera in due {
            self.held.remove(&camera);
            self.told_offline.insert(camera.clone());
            out.extend(self.make(
                NotificationKind::CameraOffline,
                now_ms,
                Some(&camera),
                format!("{} is offline", self.name(&camera)),
                serde_json::json!({}),
            ));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// Webhooks

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Watchlight-Signature";
/// The header carrying the notification id (for receivers to de-duplicate retries).
pub const DELIVERY_HEADER: &str = "X-Watchlight-Delivery";

/// `sha256=<hex>` of HMAC-SHA256 over `body` with the webhook's secret.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header in constant time (what a receiver does).
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// One webhook the owner configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
    /// Kinds sent to this webhook; empty means all.
    #[serde(default)]
    pub kinds: BTreeSet<NotificationKind>,
}

impl Webhook {
    pub fn wants(&self, kind: NotificationKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }
}

/// When to try again.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_delay_ms: u64,
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            first_delay_ms: 2_000,
            max_delay_ms: 300_000,
        }
    }
}

impl RetryPolicy {
    /// Delay after the `attempt`-th failure (1-based): doubling from the first delay.
    pub fn delay_after(&self, attempt: u32) -> u64 {
        let doubled = self
            .first_delay_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(30));
        doubled.min(self.max_delay_ms)
    }
}

/// What one attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Status(u16),
    /// Connection refused, timeout, ...
    Transport(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    Pending { due_ms: u64 },
    Delivered { attempts: u32 },
    Failed { attempts: u32, last_error: String },
}

/// The sans-IO delivery of one notification to one webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub url: String,
    pub notification_id: u64,
    pub kind: NotificationKind,
    pub body: Vec<u8>,
    pub signature: String,
    pub attempts: u32,
    pub state: DeliveryState,
    policy: RetryPolicy,
}

impl Delivery {
    pub fn new(hook: &Webhook, n: &Notification, policy: RetryPolicy, now_ms: u64) -> Delivery {
        let body = n.to_json();
        Delivery {
            url: hook.url.clone(),
            notification_id: n.id,
            kind: n.kind,
            signature: sign(hook.secret.as_bytes(), &body),
            body,
            attempts: 0,
            state: DeliveryState::Pending { due_ms: now_ms },
            policy,
        }
    }

    /// Whether an attempt should be made at `now_ms`.
    pub fn is_due(&self, now_ms: u64) -> bool {
        matches!(self.state, DeliveryState::Pending { due_ms } if now_ms >= due_ms)
    }

    /// Records an attempt's outcome: 2xx delivers; 5xx, 408, 429 and transport errors retry
    /// with backoff until the policy's attempts run out; other statuses fail at once
    /// (the receiver refuses the notice, repeating will not help).
    pub fn record(&mut self, now_ms: u64, attempt: Attempt) -> &DeliveryState {
        self.attempts += 1;
        let (retry, error) = match attempt {
            Attempt::Status(s) if (200..300).contains(&s) => {
                self.state = DeliveryState::Delivered {
                    attempts: self.attempts,
                };
                return &self.state;
            }
            Attempt::Status(s) => (s >= 500 || s == 408 || s == 429, format!("HTTP status {s}")),
            Attempt::Transport(e) => (true, e),
        };
        self.state = if retry && self.attempts < self.policy.max_attempts {
            DeliveryState::Pending {
                due_ms: now_ms + self.policy.delay_after(self.attempts),
            }
        } else {
            DeliveryState::Failed {
                attempts: self.attempts,
                last_error: error,
            }
        };
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(n: usize) -> Router {
        Router::new(
            RouterConfig::new("home1"),
            (1..=n).map(|i| format!("cam{i}")),
        )
    }

    fn kinds(v: &[Notification]) -> Vec<NotificationKind> {
        v.iter().map(|n| n.kind).collect()
    }

    #[test]
    fn one_camera_offline_is_sent_after_the_hold_and_back_after_that() {
        let mut r = router(4);
        let off = CareEvent::CameraOffline {
            camera: "cam2".into(),
        };
        assert!(r.handle(0, off).is_empty());
        assert_eq!(r.next_deadline(), Some(60_000));
        assert!(r.poll(59_999).is_empty());
        let sent = r.poll(60_000);
        assert_eq!(kinds(&sent), [NotificationKind::CameraOffline]);
        assert_eq!(sent[0].camera.as_deref(), Some("cam2"));
        let back = r.handle(
            90_000,
            CareEvent::CameraOnline {
                camera: "cam2".into(),
            },
        );
        assert_eq!(kinds(&back), [NotificationKind::CameraOnline]);
    }

    #[test]
    fn a_flap_inside_the_hold_is_not_news() {
        let mut r = router(4);
        r.handle(
            0,
            CareEvent::CameraOffline {
                camera: "cam1".into(),
            },
        );
        assert!(
            r.handle(
                10_000,
                CareEvent::CameraOnline {
                    camera: "cam1".into()
                }
            )
            .is_empty()
        );
        assert!(r.poll(120_000).is_empty());
    }

    #[test]
    fn a_home_wide_drop_gives_one_notice_and_one_back() {
        let mut r = router(5);
        let mut all = Vec::new();
        for i in 1..=5 {
            all.extend(r.handle(
                i * 1000,
                CareEvent::CameraOffline {
                    camera: format!("cam{i}"),
                },
            ));
        }
        all.extend(r.poll(600_000));
        assert_eq!(kinds(&all), [NotificationKind::NetworkDown]);
        // Declared as soon as 3 of 5 (60 %) are down; the rest join the same outage.
        assert_eq!(all[0].data["cameras"].as_array().unwrap().len(), 3);
        let mut back = Vec::new();
        for i in 1..=5 {
            back.extend(r.handle(
                700_000 + i,
                CareEvent::CameraOnline {
                    camera: format!("cam{i}"),
                },
            ));
        }
        back.extend(r.poll(2_000_000));
        assert_eq!(kinds(&back), [NotificationKind::NetworkBack]);
    }

    #[test]
    fn a_camera_still_down_after_the_outage_is_reported_alone() {
        let mut r = router(3);
        for i in 1..=3 {
            r.handle(
                0,
                CareEvent::CameraOffline {
                    camera: format!("cam{i}"),
                },
            );
        }
        let b1 = r.handle(
            100_000,
            CareEvent::CameraOnline {
                camera: "cam1".into(),
            },
        );
        let b2 = r.handle(
            100_001,
            CareEvent::CameraOnline {
                camera: "cam2".into(),
            },
        );
        assert!(b1.is_empty());
        assert_eq!(kinds(&b2), [NotificationKind::NetworkBack]);
        let later = r.poll(100_001 + 60_000);
        assert_eq!(kinds(&later), [NotificationKind::CameraOffline]);
        assert_eq!(later[0].camera.as_deref(), Some("cam3"));
    }

    #[test]
    fn battery_notices_name_the_camera_and_never_a_charge_above_low() {
        let mut r = router(2);
        r.set_name("cam1", "garden");
        let low = |percent: f64| CareEvent::BatteryLow {
            camera: "cam1".into(),
            percent,
        };
        let told = r.handle(0, low(8.0));
        assert_eq!(told[0].title, "Battery low on garden (8 %)");
        assert_eq!(told[0].camera.as_deref(), Some("cam1"));
        // Low under load only: the charge at rest is above the low mark, so no percent.
        let mut r2 = router(1);
        let told = r2.handle(0, low(100.0));
        assert!(!told[0].title.contains('%'), "{}", told[0].title);
        assert!(told[0].title.contains("cam1"), "no name known: the id");

        // The critical notice, its own kind, said differently once fresh cells woke it.
        let critical = |replaced: bool| CareEvent::BatteryCritical {
            camera: "cam1".into(),
            replaced,
        };
        let told = r.handle(1, critical(false));
        assert_eq!(kinds(&told), [NotificationKind::BatteryCritical]);
        assert_eq!(
            told[0].title,
            "Battery critical on garden: it shut down; replace the batteries"
        );
        assert!(r.handle(2, critical(false)).is_empty(), "once a day");
        // Fresh batteries: the next low and critical are news again the same day.
        assert!(r.handle(3, low(5.0)).is_empty());
        r.battery_replaced("cam1");
        assert_eq!(r.handle(4, low(5.0)).len(), 1);
        let told = r.handle(5, critical(true));
        assert!(
            told[0].title.contains("fresh batteries"),
            "{}",
            told[0].title
        );
    }

    #[test]
    fn repeats_of_the_same_notice_wait_a_day() {
        let mut r = router(2);
        let low = |camera: &str| CareEvent::BatteryLow {
            camera: camera.into(),
            percent: 8.0,
        };
        let finding = |condition: &str| CareEvent::DoctorFinding {
            camera: "cam1".into(),
            condition: condition.into(),
            summary: "s".into(),
        };
        assert_eq!(r.handle(0, low("cam1")).len(), 1);
        assert!(r.handle(3_600_000, low("cam1")).is_empty());
        assert_eq!(r.handle(3_600_000, low("cam2")).len(), 1, "another camera");
        assert_eq!(r.handle(86_400_000, low("cam1")).len(), 1, "a day later");
        assert_eq!(r.handle(0, finding("wifi_weak")).len(), 1);
        assert!(r.handle(1, finding("wifi_weak")).is_empty());
        assert_eq!(
            r.handle(2, finding("not_armed")).len(),
            1,
            "another condition"
        );
        // Motion is never held back.
        let motion = CareEvent::Motion {
            camera: "cam1".into(),
            clip_id: "c".into(),
            thumbnail_url: "t".into(),
        };
        assert_eq!(r.handle(5, motion.clone()).len(), 1);
        assert_eq!(r.handle(6, motion).len(), 1);
    }

    /// Random drops and returns over six cameras: the notices always tell a consistent
    /// story (no "back" without "offline", no per-camera notice inside an outage, outages
    /// never nest), and after everything returns and settles nothing is left pending.
    #[test]
    fn random_flapping_tells_a_consistent_story() {
        let mut seed = 0x5eed_u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let (mut outages, mut singles) = (0, 0);
        for _round in 0..50 {
            let mut r = router(6);
            let mut online = [true; 6];
            let mut told_offline = BTreeSet::new();
            let mut in_outage = false;
            let mut now = 0;
            let mut check = |ns: Vec<Notification>, told: &mut BTreeSet<String>| {
                for n in ns {
                    let cam = n.camera.clone().unwrap_or_default();
                    match n.kind {
                        NotificationKind::NetworkDown => {
                            assert!(!in_outage, "nested outage");
                            in_outage = true;
                            outages += 1;
                            told.clear();
                        }
                        NotificationKind::NetworkBack => {
                            assert!(in_outage, "back without down");
                            in_outage = false;
                        }
                        NotificationKind::CameraOffline => {
                            assert!(!in_outage, "per-camera notice inside an outage");
                            assert!(told.insert(cam), "offline twice");
                            singles += 1;
                        }
                        NotificationKind::CameraOnline => {
                            assert!(!in_outage);
                            assert!(told.remove(&cam), "online without offline");
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            };
            for _ in 0..40 {
                now += next(120_000);
                let i = next(6) as usize;
                let camera = format!("cam{}", i + 1);
                online[i] = !online[i];
                let e = if online[i] {
                    CareEvent::CameraOnline { camera }
                } else {
                    CareEvent::CameraOffline { camera }
                };
                let ns = r.handle(now, e);
                check(ns, &mut told_offline);
            }
            for (i, up) in online.iter_mut().enumerate() {
                if !*up {
                    *up = true;
                    now += 1000;
                    let ns = r.handle(
                        now,
                        CareEvent::CameraOnline {
                            camera: format!("cam{}", i + 1),
                        },
                    );
                    check(ns, &mut told_offline);
                }
            }
            check(r.poll(now + 3_600_000), &mut told_offline);
            assert!(
                !in_outage && told_offline.is_empty(),
                "left: {told_offline:?}"
            );
            assert_eq!(r.next_deadline(), None);
        }
        // Both paths were exercised.
        assert!(
            outages > 5 && singles > 5,
            "{outages} outages, {singles} single notices"
        );
    }

    #[test]
    fn switched_off_kinds_are_dropped() {
        let mut r = router(2);
        r.set_enabled(NotificationKind::Motion, false);
        let motion = CareEvent::Motion {
            camera: "cam1".into(),
            clip_id: "c1".into(),
            thumbnail_url: "/api/clips/c1/thumbnail".into(),
        };
        assert!(r.handle(0, motion.clone()).is_empty());
        r.set_enabled(NotificationKind::Motion, true);
        let n = r.handle(1, motion);
        assert_eq!(
            n[0].thumbnail_url.as_deref(),
            Some("/api/clips/c1/thumbnail")
        );
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let sig = sign(b"s3cret", b"{\"a\":1}");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify(b"s3cret", b"{\"a\":1}", &sig));
        assert!(!verify(b"s3cret", b"{\"a\":2}", &sig));
        assert!(!verify(b"other", b"{\"a\":1}", &sig));
        assert!(!verify(b"s3cret", b"{\"a\":1}", "md5=00"));
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn delivery_retries_with_backoff_then_gives_up() {
        let mut r = router(1);
        let n = r.handle(
            0,
            CareEvent::Storage {
                used_bytes: 9,
                budget_bytes: 10,
                message: "Storage 90 % full".into(),
            },
        );
        let hook = Webhook {
            url: "http://x/".into(),
            secret: "k".into(),
            kinds: BTreeSet::new(),
        };
        let policy = RetryPolicy {
            max_attempts: 3,
            first_delay_ms: 1000,
            max_delay_ms: 10_000,
        };
        let mut d = Delivery::new(&hook, &n[0], policy, 0);
        assert!(d.is_due(0));
        assert_eq!(
            d.record(0, Attempt::Status(500)),
            &DeliveryState::Pending { due_ms: 1000 }
        );
        assert!(!d.is_due(999));
        assert_eq!(
            d.record(1000, Attempt::Transport("refused".into())),
            &DeliveryState::Pending { due_ms: 3000 }
        );
        assert!(matches!(
            d.record(3000, Attempt::Status(503)),
            DeliveryState::Failed { attempts: 3, .. }
        ));
        let mut d = Delivery::new(&hook, &n[0], policy, 0);
        assert!(matches!(
            d.record(0, Attempt::Status(404)),
            DeliveryState::Failed { attempts: 1, .. }
        ));
        let mut d = Delivery::new(&hook, &n[0], policy, 0);
        d.record(0, Attempt::Status(500));
        assert_eq!(
            d.record(1000, Attempt::Status(204)),
            &DeliveryState::Delivered { attempts: 2 }
        );
    }
}
