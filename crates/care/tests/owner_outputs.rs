//! The monthly report across a month boundary on a simulated clock, the support bundle's
//! contents and secrecy, and the metrics' movement and format.

use flate2::read::GzDecoder;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Read;
use watchlight_care::battery::{BatterySample, DailyUse, PackSpec, forecast};
use watchlight_care::bundle::{
    AvailabilityRecord, BundleInput, EventRecord, FindingRecord, Scope, TelemetryRecord, build,
};
use watchlight_care::metrics::{LATENCY_BUCKETS, Metrics};
use watchlight_care::report::{self, CameraMonth, Finding, HealthReport};
use watchlight_hw::Clock;
use watchlight_hw::sim::SimClock;
use watchlight_protocol::messages::{Availability, TelemetryMsg};

/// 2026-10-31 22:00 UTC.
const OCT_31_22H: u64 = 1_793_484_000_000;
const MIN: u64 = 60_000;
const DAY: u64 = 1440 * MIN;

fn camera_month(from: u64) -> CameraMonth {
    let spec = PackSpec::default();
    let samples = [BatterySample {
        at_ms: from + 20 * DAY,
        resting_mv: 3150,
        loaded_mv: 3010,
        temp_c: 6.0,
    }];
    let usage = [DailyUse {
        recording_s: 300.0,
        transmit_s: 60.0,
    }; 14];
    CameraMonth {
        camera: "front-door".into(),
        name: "Front door".into(),
        battery: Some(forecast(&spec, &samples, &usage).unwrap()),
        rssi_dbm: vec![-61, -58, -70, -64, -66],
        availability: vec![
            (from - DAY, Availability::Online),
            (from + 10 * DAY, Availability::Offline),
            (from + 10 * DAY + 6 * 3_600_000, Availability::Online),
        ],
        missed_checkins: 2,
        clips: 143,
        clip_bytes: 212_000_000,
        findings: vec![
            Finding {
                at_ms: from + 10 * DAY,
                condition: "wifi_lost".into(),
                summary: "the camera lost Wi-Fi for 6 hours (router restarted?)".into(),
            },
            Finding {
                at_ms: from - 3 * DAY,
                condition: "old".into(),
                summary: "last month's".into(),
            },
        ],
        since_ms: None,
    }
}

#[test]
fn a_report_is_generated_once_across_the_month_boundary() {
    // UTC+1: the local month turns at 2026-10-31 23:00 UTC.
    let offset = 60;
    let clock = SimClock::new(OCT_31_22H);
    let mut last_run: Option<u64> = Some(OCT_31_22H - 5 * DAY); // October's run already done
    let mut reports: Vec<HealthReport> = Vec::new();
    for _ in 0..(3 * 60) {
        let now = clock.now_ms();
        if let Some(period) = report::due(last_run, now, offset) {
            let cams = [camera_month(period.from_ms)];
            reports.push(report::build(period, now, &cams));
            last_run = Some(now);
        }
        clock.advance(MIN);
    }
    assert_eq!(reports.len(), 1, "exactly one report");
    let r = &reports[0];
    assert_eq!(
        r.generated_ms,
        OCT_31_22H + 60 * MIN,
        "at the first minute of the month"
    );
    assert_eq!(r.period.month, "2026-10");
    assert_eq!(r.period.to_ms, OCT_31_22H + 60 * MIN);
    assert_eq!(r.period.to_ms - r.period.from_ms, 31 * DAY);
    let c = &r.cameras[0];
    // 6 hours offline in 31 days.
    assert!(
        (c.uptime_percent - 99.19).abs() < 0.01,
        "{}",
        c.uptime_percent
    );
    assert_eq!(c.findings.len(), 1, "only the month's findings");
    let sig = c.signal.as_ref().unwrap();
    assert_eq!((sig.min_dbm, sig.median_dbm, sig.max_dbm), (-70, -64, -58));
    assert!(c.battery.as_ref().unwrap().days_left > 14.0);

    let json = serde_json::to_string(r).unwrap();
    let back: HealthReport = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, r);
    let text = r.render_text();
    for needle in [
        "2026-10",
        "Front door",
        "99.19 %",
        "2 missed",
        "143",
        "wifi_lost",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    println!("{text}");

    // On demand: the current month so far, whenever asked.
    let now = clock.now_ms();
    let month = report::Period::containing(now, offset);
    assert_eq!(month.month, "2026-11");
    assert!(report::due(last_run, now, offset).is_none());
}

const TOKEN: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const WIFI: &str = "correct horse battery staple";
const OWNER_PW: &str = "Tr0ub4dor&3";
const HOOK_SECRET: &str = "whsec_ZmFrZXNlY3JldA";
const BEARER: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvd25lciJ9.c2ln";

fn bundle_input() -> BundleInput {
    let mut devices = BTreeMap::new();
    devices.insert(
        "front-door".to_string(),
        json!({"settings": {"name": "Front door", "armed": true, "sensitivity": 5},
               "profile": "battery_pir", "token": TOKEN,
               "wifi": {"ssid": "Home", "passphrase": WIFI}}),
    );
    devices.insert(
        "garden".to_string(),
        json!({"settings": {"name": "Garden"}, "credential_hash": "argon2id$..."}),
    );
    BundleInput {
        generated_ms: 1_795_400_000_000,
        versions: [
            ("hub".to_string(), "0.1.0".to_string()),
            ("front-door".to_string(), "fw 0.1.0".to_string()),
        ]
        .into(),
        hub_config: json!({"listen": "0.0.0.0:8443", "owner_password": OWNER_PW,
                            "webhooks": [{"url": "https://example.net/h", "secret": HOOK_SECRET}]}),
        devices,
        availability: vec![AvailabilityRecord {
            device: "front-door".into(),
            at_ms: 1,
            availability: "online".into(),
            reason: "connected".into(),
        }],
        telemetry: vec![TelemetryRecord {
            device: "front-door".into(),
            telemetry: TelemetryMsg {
                v: 1,
                ts: 2,
                battery_resting_mv: Some(3150),
                rssi_dbm: Some(-61),
                ..TelemetryMsg::default()
            },
        }],
        events: vec![
            EventRecord {
                device: "front-door".into(),
                at_ms: 3,
                seq: 1,
                event: "wifi_rejected".into(),
                data: json!({"ssid": "Home", "note": format!("tried passphrase={WIFI}")}),
            },
            EventRecord {
                device: "garden".into(),
                at_ms: 4,
                seq: 9,
                event: "boot".into(),
                data: json!({}),
            },
        ],
        findings: vec![FindingRecord {
            device: "front-door".into(),
            at_ms: 5,
            finding: json!({"condition": "wifi_rejected", "advice": "re-enter the Wi-Fi password"}),
        }],
        hub_log: vec![
            format!("INFO device front-door connected with token {TOKEN}"),
            format!("DEBUG POST /api/login {{\"user\":\"owner\",\"password\":\"{OWNER_PW}\"}}"),
            format!("DEBUG GET /api/devices Authorization: Bearer {BEARER}"),
            format!("INFO cmd wifi to front-door ssid=Home passphrase={WIFI}"),
            format!("INFO webhook secret={HOOK_SECRET} registered"),
            "INFO garden online".into(),
        ],
        known_secrets: vec![
            TOKEN.into(),
            WIFI.into(),
            OWNER_PW.into(),
            HOOK_SECRET.into(),
        ],
    }
}

fn unpack(tar_gz: &[u8]) -> BTreeMap<String, String> {
    let mut archive = tar::Archive::new(GzDecoder::new(tar_gz));
    let mut files = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        files.insert(path, text);
    }
    files
}

#[test]
fn the_hub_bundle_holds_what_it_should_and_no_secret() {
    let input = bundle_input();
    let b = build(&input, &Scope::Hub).unwrap();
    let files = unpack(&b.tar_gz);
    let names: Vec<&str> = files.keys().map(|p| p.split_once('/').unwrap().1).collect();
    for want in [
        "manifest.json",
        "versions.json",
        "hub/config.json",
        "devices/front-door.json",
        "devices/garden.json",
        "availability.jsonl",
        "telemetry.jsonl",
        "events.jsonl",
        "doctor.jsonl",
        "logs/hub.log",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let all: String = files.values().cloned().collect();
    // Bytes of the archive too (compressed, so also check the decompressed text).
    for secret in [
        TOKEN,
        WIFI,
        OWNER_PW,
        HOOK_SECRET,
        BEARER,
        "Tr0ub4dor",
        "battery staple",
    ] {
        assert!(!all.contains(secret), "secret {secret} leaked");
    }
    // What support needs is still there.
    for needed in [
        "\"sensitivity\": 5",
        "\"ssid\": \"Home\"",
        "wifi_rejected",
        "re-enter the Wi-Fi password",
        "\"rssi_dbm\":-61",
        "garden online",
        "Authorization: Bearer [removed]",
        "fw 0.1.0",
    ] {
        assert!(all.contains(needed), "{needed} missing");
    }
    println!("{}", b.file_name);
    for (path, bytes) in &b.listing {
        println!("{bytes:>6}  {path}");
    }
}

#[test]
fn a_camera_bundle_holds_only_that_camera() {
    let b = build(&bundle_input(), &Scope::Camera("garden".into())).unwrap();
    let files = unpack(&b.tar_gz);
    let all: String = files.values().cloned().collect();
    assert!(files.keys().any(|k| k.ends_with("devices/garden.json")));
    assert!(!files.keys().any(|k| k.ends_with("devices/front-door.json")));
    for (path, text) in &files {
        if path.ends_with(".jsonl") || path.ends_with(".log") {
            assert!(!text.contains("front-door"), "{path}: {text}");
        }
    }
    assert!(!files.keys().any(|k| k.ends_with("hub/config.json")));
    assert!(all.contains("garden online"));
}

#[test]
fn a_secret_the_scrubbers_cannot_see_is_still_refused() {
    let mut input = bundle_input();
    // A secret the replacement itself re-creates (the marker is "[removed]"): the final
    // check must refuse the bundle rather than write it.
    input.known_secrets.push("removed".into());
    let err = build(&input, &Scope::Hub).unwrap_err();
    assert!(err.to_string().contains("secret"), "{err}");
}

/// A strict reader of the text exposition format: returns (name with labels → value).
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                typed.insert(name.into(), kind.into()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
        }
        let family = typed
            .keys()
            .find(|f| {
                name == f.as_str()
                    || (typed[*f] == "histogram"
                        && [
                            format!("{f}_bucket"),
                            format!("{f}_sum"),
                            format!("{f}_count"),
                        ]
                        .contains(&name.to_string()))
            })
            .unwrap_or_else(|| panic!("sample before its TYPE: {line}"));
        if typed[family] == "counter" {
            assert!(name.ends_with("_total") && value >= 0.0, "{line}");
        }
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "{line} twice"
        );
    }
    samples
}

#[test]
fn metrics_move_when_things_happen_and_the_text_parses() {
    let mut m = Metrics::new();
    let before = parse_exposition(&m.render());
    assert_eq!(before["watchlight_clip_bytes_total"], 0.0);

    m.set_devices([("online", 3), ("offline", 1)]);
    m.record_message_in("telemetry");
    m.record_message_in("telemetry");
    m.record_message_in("event");
    m.record_message_out("settings");
    m.record_dropped("too_large");
    m.record_clip(1_000_000, 0.3);
    m.record_clip(2_500_000, 12.0);
    m.record_notification("motion", true);
    m.record_notification("storage", false);
    let after = parse_exposition(&m.render());
    assert_eq!(after["watchlight_devices{state=\"online\"}"], 3.0);
    assert_eq!(
        after["watchlight_mqtt_messages_received_total{topic=\"telemetry\"}"],
        2.0
    );
    assert_eq!(
        after["watchlight_mqtt_messages_sent_total{topic=\"settings\"}"],
        1.0
    );
    assert_eq!(
        after["watchlight_payloads_dropped_total{reason=\"too_large\"}"],
        1.0
    );
    assert_eq!(after["watchlight_clip_bytes_total"], 3_500_000.0);
    let h = "watchlight_clip_ingest_latency_seconds";
    assert_eq!(after[&format!("{h}_count")], 2.0);
    assert!((after[&format!("{h}_sum")] - 12.3).abs() < 1e-9);
    assert_eq!(after[&format!("{h}_bucket{{le=\"0.25\"}}")], 0.0);
    assert_eq!(after[&format!("{h}_bucket{{le=\"0.5\"}}")], 1.0);
    assert_eq!(after[&format!("{h}_bucket{{le=\"30\"}}")], 2.0);
    // Buckets are cumulative and end at the count.
    let mut last = 0.0;
    for b in LATENCY_BUCKETS {
        let v = after[&format!("{h}_bucket{{le=\"{b}\"}}")];
        assert!(v >= last);
        last = v;
    }
    assert_eq!(after[&format!("{h}_bucket{{le=\"+Inf\"}}")], 2.0);
    assert_eq!(
        after["watchlight_notifications_delivered_total{kind=\"motion\"}"],
        1.0
    );
    assert_eq!(
        after["watchlight_notification_failures_total{kind=\"storage\"}"],
        1.0
    );
    // A device leaving a state reads 0, not a stale count.
    m.set_devices([("online", 4)]);
    let later = parse_exposition(&m.render());
    assert_eq!(later["watchlight_devices{state=\"offline\"}"], 0.0);
}
