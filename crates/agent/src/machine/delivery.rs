//! Delivery of the offline queue and what the camera publishes.
//!
//! One item at a time, oldest first: an event is published (QoS 1) and leaves the queue
//! only when the hub says it stored it (`cmd/ack`, never the broker's PUBACK); with no
//! acknowledgement within [`HUB_ACK_WAIT_MS`], or when the link drops, it is published
//! again (the hub keeps each `(device, seq)` once). A clip is uploaded over HTTP first
//! (idempotent on the hub), then its `clip_recorded` event goes the same way.

use super::{
    DELIVERY_RETRY_MS, HUB_ACK_WAIT_MS, Head, HeadBody, InFlight, Machine, Output, PRIVATE_META,
    Qos,
};
use serde_json::{Map, Value};
use watchlight_protocol::EventKind;
use watchlight_protocol::messages::{
    Availability, AvailabilityMsg, CmdResultMsg, EventMsg, LightReport, StateMsg, TelemetryMsg,
    encode,
};
use watchlight_protocol::topics::DeviceTopic;

impl Machine {
    /// Asks for the oldest queued item if it can be sent now.
    pub(super) fn pump(&mut self) {
        if !self.connected
            || self.in_flight.is_some()
            || self.retry_delivery_at.is_some()
            || self.peeking
            || self.queue_items == 0
        {
            return;
        }
        self.peeking = true;
        self.emit(Output::PeekQueue);
    }

    pub(super) fn on_oldest(&mut self, head: Option<Head>) {
        self.peeking = false;
        let Some(Head { seq, body }) = head else {
            self.queue_items = 0;
            return;
        };
        if !self.connected || self.in_flight.is_some() || self.retry_delivery_at.is_some() {
            return;
        }
        match body {
            HeadBody::Event(event) => {
                let msg = EventMsg {
                    v: 1,
                    ts: event.ts,
                    seq,
                    event: event.kind,
                    data: event.data,
                };
                self.publish_event(seq, encode(&msg));
            }
            HeadBody::Clip { meta } => {
                if self.creds.is_none() {
                    return;
                }
                if self.radio_silent {
                    // Nothing gets through a silent radio; try again later.
                    self.retry_delivery_at = Some(self.now + DELIVERY_RETRY_MS);
                    return;
                }
                self.in_flight = Some(InFlight::Uploading { seq, meta });
                self.emit(Output::Upload { seq });
            }
        }
    }

    fn publish_event(&mut self, seq: u64, payload: Vec<u8>) {
        if self.publish(DeviceTopic::Event, payload, Some(seq)) {
            self.in_flight = Some(InFlight::Publishing { seq });
            self.hub_ack_by = Some(self.now + HUB_ACK_WAIT_MS);
        }
    }

    /// The session could not take a tagged publish: the event is sent again later.
    pub(super) fn publish_failed(&mut self, tag: u64) {
        if self.in_flight == Some(InFlight::Publishing { seq: tag }) {
            self.in_flight = None;
            self.hub_ack_by = None;
            self.retry_delivery_at = Some(self.now + DELIVERY_RETRY_MS);
        }
    }

    /// The hub has not said it stored the event in flight (its disk may be full): keep
    /// it and send it again.
    pub(super) fn hub_ack_overdue(&mut self) {
        if let Some(InFlight::Publishing { seq }) = self.in_flight {
            self.in_flight = None;
            tracing::info!(
                seq,
                "the hub has not stored the event yet: sending it again"
            );
            self.retry_delivery_at = Some(self.now + DELIVERY_RETRY_MS);
        }
    }

    pub(super) fn on_upload_done(&mut self, seq: u64, result: Result<(), String>) {
        let meta = match &self.in_flight {
            Some(InFlight::Uploading { seq: s, meta }) if *s == seq => meta.clone(),
            _ => return,
        };
        self.in_flight = None;
        if let Err(e) = result {
            tracing::warn!(seq, "clip upload failed, will retry: {e}");
            self.retry_delivery_at = Some(self.now + DELIVERY_RETRY_MS);
            return;
        }
        // The hub has the video: now the clip_recorded event, whose ack frees the item.
        let data: Map<String, Value> = meta
            .into_iter()
            .filter(|(k, _)| !k.starts_with(PRIVATE_META))
            .collect();
        let msg = EventMsg {
            v: 1,
            ts: data
                .get("end_ts")
                .and_then(Value::as_u64)
                .unwrap_or_else(|| self.hub_time(self.now)),
            seq,
            event: EventKind::ClipRecorded,
            data,
        };
        self.publish_event(seq, encode(&msg));
    }

    /// The hub stored event `seq`: only now may it leave the queue. An acknowledgement
    /// that comes late (after a reconnect) frees the item all the same, unless its clip
    /// is being uploaded right now.
    pub(super) fn on_event_ack(&mut self, seq: u64) {
        match self.in_flight {
            Some(InFlight::Publishing { seq: s }) if s == seq => {
                self.in_flight = None;
                self.hub_ack_by = None;
            }
            Some(InFlight::Uploading { seq: s, .. }) if s == seq => return,
            _ => {}
        }
        self.emit(Output::DeleteItem { seq });
    }

    // ----- publishing --------------------------------------------------------------------

    /// Publishes on the connected session; false when there is none.
    fn publish(&mut self, topic: DeviceTopic, payload: Vec<u8>, tag: Option<u64>) -> bool {
        let Some(topics) = self.topics() else {
            return false;
        };
        if self.session.is_none() || !self.connected {
            return false;
        }
        let qos = if topic == DeviceTopic::Telemetry {
            Qos::AtMostOnce
        } else {
            Qos::AtLeastOnce
        };
        self.emit(Output::Publish {
            topic: topics.topic(topic),
            payload,
            qos,
            retain: topic.retained(),
            tag,
        });
        true
    }

    pub(super) fn publish_availability(&mut self, availability: Availability) {
        let msg = AvailabilityMsg {
            v: 1,
            ts: self.hub_time(self.now),
            availability,
        };
        self.publish(DeviceTopic::Availability, encode(&msg), None);
    }

    pub(super) fn publish_state(&mut self) {
        if !self.connected {
            return;
        }
        let (condition, light) = self.shown;
        let mut report = LightReport::new(condition, light);
        if let Some((at, next_condition, next_light)) = self.shown_ends {
            report.until = Some(self.hub_time(at));
            report.then = Some(Box::new(LightReport::new(next_condition, next_light)));
        }
        let msg = StateMsg {
            v: 1,
            ts: self.hub_time(self.now),
            state: self.core.state(),
            light: report,
            profile: self.profile,
            firmware: env!("CARGO_PKG_VERSION").into(),
            settings_version: self.core.settings().version,
        };
        self.publish(DeviceTopic::State, encode(&msg), None);
    }

    pub(super) fn publish_telemetry(&mut self) {
        let reading = self.core.last_battery_reading();
        let msg = TelemetryMsg {
            v: 1,
            ts: self.hub_time(self.now),
            battery_resting_mv: reading.map(|r| r.resting_mv),
            battery_loaded_mv: reading.map(|r| r.loaded_mv),
            temperature_c: reading.map(|r| r.temp_c),
            rssi_dbm: self.rssi_dbm,
            uptime_s: self.now / 1000,
            queue_bytes: self.queue_bytes,
            reconnects: self.reconnects,
        };
        self.publish(DeviceTopic::Telemetry, encode(&msg), None);
    }

    /// A command's result, on the session whether or not it has connected yet (the
    /// session sends it once it has).
    pub(super) fn publish_result(&mut self, id: &str, error: Option<String>) {
        let Some(topics) = self.topics() else { return };
        if self.session.is_none() {
            return;
        }
        let msg = CmdResultMsg {
            v: 1,
            ts: self.hub_time(self.now),
            id: id.to_string(),
            ok: error.is_none(),
            error,
        };
        self.emit(Output::Publish {
            topic: topics.topic(DeviceTopic::CmdResult),
            payload: encode(&msg),
            qos: Qos::AtLeastOnce,
            retain: false,
            tag: None,
        });
    }
}
