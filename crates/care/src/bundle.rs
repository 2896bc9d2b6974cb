//! The support bundle: one `tar.gz` for the hub or one camera, for the owner to hand to
//! support — settings with secrets removed, availability and telemetry history, events,
//! the doctor's findings, versions and recent hub logs with tokens and passwords scrubbed.
//!
//! The input is plain data the hub reads from its store ([`BundleInput`]); [`build`] does
//! no I/O and returns the archive's bytes. Secrets are removed three ways, each catching
//! what the others could miss:
//! 1. JSON fields whose name says secret (`password`, `passphrase`, `token`, `secret`, `psk`,
//!    `authorization`, ...) are replaced by `"[removed]"`, at any depth;
//! 2. every string (JSON values and log lines) goes through [`Scrubber::scrub_text`]: 64-hex
//!    tokens, `Bearer …` headers, `"password": "…"` fields inside text and
//!    `passphrase=…`-style pairs;
//! 3. the secrets the hub knows (device tokens, Wi-Fi passphrases, webhook secrets) are
//!    replaced wherever they appear, and the finished files are checked for them: a bundle
//!    that would still hold one is refused with an error, never written.

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use watchlight_protocol::messages::TelemetryMsg;

pub const REMOVED: &str = "[removed]";

/// What the bundle covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", content = "device", rename_all = "snake_case")]
pub enum Scope {
    Hub,
    Camera(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityRecord {
    pub device: String,
    pub at_ms: u64,
    pub availability: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryRecord {
    pub device: String,
    pub telemetry: TelemetryMsg,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub device: String,
    pub at_ms: u64,
    pub seq: u64,
    pub event: String,
    #[serde(default)]
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub device: String,
    pub at_ms: u64,
    /// The doctor's finding as JSON (condition, explanation, evidence, advice).
    pub finding: Value,
}

/// Everything the hub gathers for a bundle.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BundleInput {
    pub generated_ms: u64,
    /// Component → version (hub, firmware of each camera, profile file, ...).
    pub versions: BTreeMap<String, String>,
    /// The hub's configuration (may hold secrets; they are removed).
    pub hub_config: Value,
    /// Device → its settings document and pairing record as JSON.
    pub devices: BTreeMap<String, Value>,
    pub availability: Vec<AvailabilityRecord>,
    pub telemetry: Vec<TelemetryRecord>,
    pub events: Vec<EventRecord>,
    pub findings: Vec<FindingRecord>,
    /// Recent hub log lines.
    pub hub_log: Vec<String>,
    /// Secret values the hub knows (device tokens, Wi-Fi passphrases, webhook secrets):
    /// never in the bundle.
    pub known_secrets: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("device '{0}' is not in the bundle's input")]
    UnknownDevice(String),
    #[error("file {file} would still contain a known secret: bundle refused")]
    SecretLeft { file: String },
    #[error("could not write the archive: {0}")]
    Archive(#[from] std::io::Error),
}

/// Finds and removes secrets in JSON and text.
#[derive(Debug, Clone)]
pub struct Scrubber {
    patterns: Vec<(Regex, &'static str)>,
    known: Vec<String>,
}

/// JSON field names that hold secrets (compared lowercase, as a substring).
const SECRET_FIELDS: [&str; 10] = [
    "password",
    "passphrase",
    "passwd",
    "token",
    "secret",
    "psk",
    "authorization",
    "api_key",
    "apikey",
    "credential",
];

impl Scrubber {
    pub fn new(known_secrets: &[String]) -> Scrubber {
        let fields = "password|passphrase|passwd|token|secret|psk|api_?key|credential";
        let patterns = vec![
            // "password": "…" inside text (a JSON fragment in a log line).
            (
                Regex::new(&format!(
                    r#"(?i)("[a-z_]*(?:{fields})[a-z_]*"\s*:\s*)"(?:[^"\\]|\\.)*""#
                ))
                .expect("valid regex"),
                "${1}\"[removed]\"",
            ),
            // Authorization headers.
            (
                Regex::new(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+").expect("valid regex"),
                "${1} [removed]",
            ),
            // key=value and key: value pairs (Wi-Fi passphrases in logs, URLs' query strings).
            (
                Regex::new(&format!(
                    r#"(?i)\b([a-z_]*(?:{fields})[a-z_]*)(\s*[=:]\s*)([^\s&,;"']+)"#
                ))
                .expect("valid regex"),
                "${1}${2}[removed]",
            ),
            // Long hex tokens (device credentials are 64 hex digits).
            (
                Regex::new(r"\b[0-9a-fA-F]{64}\b").expect("valid regex"),
                "[token]",
            ),
        ];
        let mut known: Vec<String> = known_secrets
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect();
        // Longest first, so that a secret containing another is removed whole.
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Scrubber { patterns, known }
    }

    pub fn scrub_text(&self, text: &str) -> String {
        let mut s = text.to_string();
        for k in &self.known {
            s = s.replace(k.as_str(), REMOVED);
        }
        for (re, with) in &self.patterns {
            s = re.replace_all(&s, *with).into_owned();
        }
        s
    }

    pub fn scrub_json(&self, v: &Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let lower = k.to_ascii_lowercase();
                        let secret = SECRET_FIELDS.iter().any(|f| lower.contains(f));
                        let v = if secret && !v.is_null() {
                            Value::String(REMOVED.into())
                        } else {
                            self.scrub_json(v)
                        };
                        (self.scrub_text(k), v)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.scrub_json(v)).collect()),
            Value::String(s) => Value::String(self.scrub_text(s)),
            other => other.clone(),
        }
    }

    /// The first known secret found in `bytes`, if any.
    fn leak(&self, bytes: &[u8]) -> bool {
        let text = String::from_utf8_lossy(bytes);
        self.known.iter().any(|k| text.contains(k.as_str()))
    }
}

/// A built bundle: the archive and what it holds.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub file_name: String,
    pub tar_gz: Vec<u8>,
    /// (path, size in bytes), in archive order.
    pub listing: Vec<(String, usize)>,
}

fn json_pretty(v: &impl Serialize) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).expect("plain data serializes");
    out.push(b'\n');
    out
}

fn json_lines<T: Serialize>(items: impl Iterator<Item = T>, scrub: &Scrubber) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        let v = scrub.scrub_json(&serde_json::to_value(item).expect("plain data serializes"));
        out.extend(serde_json::to_vec(&v).expect("json serializes"));
        out.push(b'\n');
    }
    out
}

/// Builds the bundle for `scope`.
pub fn build(input: &BundleInput, scope: &Scope) -> Result<Bundle, BundleError> {
    let scrub = Scrubber::new(&input.known_secrets);
    let wanted = |device: &str| match scope {
        Scope::Hub => true,
        Scope::Camera(d) => d == device,
    };
    if let Scope::Camera(d) = scope
        && !input.devices.contains_key(d)
    {
        return Err(BundleError::UnknownDevice(d.clone()));
    }

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let versions = serde_json::to_value(&input.versions).expect("plain data serializes");
    files.push((
        "versions.json".into(),
        json_pretty(&scrub.scrub_json(&versions)),
    ));
    if *scope == Scope::Hub {
        files.push((
            "hub/config.json".into(),
            json_pretty(&scrub.scrub_json(&input.hub_config)),
        ));
    }
    for (device, doc) in input.devices.iter().filter(|(d, _)| wanted(d)) {
        files.push((
            format!("devices/{device}.json"),
            json_pretty(&scrub.scrub_json(doc)),
        ));
    }
    files.push((
        "availability.jsonl".into(),
        json_lines(
            input.availability.iter().filter(|r| wanted(&r.device)),
            &scrub,
        ),
    ));
    files.push((
        "telemetry.jsonl".into(),
        json_lines(input.telemetry.iter().filter(|r| wanted(&r.device)), &scrub),
    ));
    files.push((
        "events.jsonl".into(),
        json_lines(input.events.iter().filter(|r| wanted(&r.device)), &scrub),
    ));
    files.push((
        "doctor.jsonl".into(),
        json_lines(input.findings.iter().filter(|r| wanted(&r.device)), &scrub),
    ));
    let mut log = String::new();
    for line in &input.hub_log {
        let keep = match scope {
            Scope::Hub => true,
            Scope::Camera(d) => line.contains(d.as_str()),
        };
        if keep {
            log.push_str(&scrub.scrub_text(line));
            log.push('\n');
        }
    }
    files.push(("logs/hub.log".into(), log.into_bytes()));
    let listing: Vec<(String, usize)> = files.iter().map(|(p, b)| (p.clone(), b.len())).collect();
    let manifest = serde_json::json!({
        "scope": scope,
        "generated_ms": input.generated_ms,
        "files": listing.iter().map(|(p, n)| serde_json::json!({"path": p, "bytes": n})).collect::<Vec<_>>(),
        "scrubbed": "secret fields, 64-hex tokens, Bearer/Basic headers, key=value secrets, known secrets",
    });
    files.insert(0, ("manifest.json".into(), json_pretty(&manifest)));

    for (path, bytes) in &files {
        if scrub.leak(bytes) {
            return Err(BundleError::SecretLeft { file: path.clone() });
        }
    }

    let stem = match scope {
        Scope::Hub => format!("watchlight-hub-{}", input.generated_ms),
        Scope::Camera(d) => format!("watchlight-{d}-{}", input.generated_ms),
    };
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, bytes) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(input.generated_ms / 1000);
        header.set_cksum();
        tar.append_data(&mut header, format!("{stem}/{path}"), bytes.as_slice())?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    let tar_gz = gz.finish()?;
    Ok(Bundle {
        file_name: format!("{stem}.tar.gz"),
        tar_gz,
        listing: std::iter::once(("manifest.json".to_string(), files[0].1.len()))
            .chain(listing)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_scrubber_catches_each_form() {
        let token = "a".repeat(64);
        let s = Scrubber::new(&[]);
        let cases = [
            (format!("device cam1 auth with {token}"), token.clone()),
            (
                r#"patch {"wifi_password": "hunter2", "ssid": "home"}"#.to_string(),
                "hunter2".into(),
            ),
            (
                "GET /x Authorization: Bearer eyJhbGciOi.x-y_z".into(),
                "eyJhbGciOi".into(),
            ),
            (
                "join ssid=Home passphrase=correct-horse".into(),
                "correct-horse".into(),
            ),
            ("token: abc123def".into(), "abc123def".into()),
        ];
        for (line, secret) in cases {
            let out = s.scrub_text(&line);
            assert!(!out.contains(&secret), "{line} → {out}");
        }
        // Harmless text is untouched.
        let plain = "cam1 online after 3 s; rssi -61 dBm; clip c-17 stored";
        assert_eq!(s.scrub_text(plain), plain);
    }

    #[test]
    fn json_secret_fields_are_removed_at_any_depth() {
        let s = Scrubber::new(&[]);
        let v = json!({"name": "door", "wifi": {"ssid": "home", "passphrase": "p4ss"}, "device_token": "t0k", "list": [{"Password": "x"}]});
        let out = s.scrub_json(&v);
        assert_eq!(out["wifi"]["passphrase"], REMOVED);
        assert_eq!(out["device_token"], REMOVED);
        assert_eq!(out["list"][0]["Password"], REMOVED);
        assert_eq!(out["wifi"]["ssid"], "home");
    }

    #[test]
    fn unknown_camera_is_named() {
        let err = build(&BundleInput::default(), &Scope::Camera("nope".into())).unwrap_err();
        assert!(err.to_string().contains("nope"));
    }
}
