//! Replay: runs the core on a virtual clock from a script and returns its timeline
//! (light changes, lifecycle changes, events), for `watchlight camera replay`.
//!
//! Script (JSON):
//! `{"v":1,"profile":"outdoor","settings":{...},"armed":true,"steps":[{"t_ms":0,"input":"power_on"},...],"until_ms":N}`
//!
//! Inputs: `power_on`, `provision` (`"wifi":"ok"|"rejected"`, default ok),
//! `hub_connected`, `hub_rejected`, `link_lost`, `link_restored`, `wifi_rejected` (a
//! set-up camera's Wi-Fi refuses its password), `pir`, `motion_start`, `motion_end`,
//! `battery` (`resting_mv`, `loaded_mv`, optional `temp_c`), `button_down`,
//! `button_up`, `settings` (`"settings":{partial document}`), `armed`, `disarmed`,
//! `cmd` (`"name"`: identify, record, live_start, live_stop, reboot, factory_reset),
//! `sensor_failed` and `sensor_ok` (`"part"`: image_sensor, motion_sensor; a failure
//! holds until `sensor_ok`, as if every read in between failed).
//! Nothing but the clock is simulated: the script says when the hub connection
//! succeeds or drops. `armed` is false unless the script says so; `until_ms` defaults
//! to the last step's time.

use crate::core::Core;
use crate::io::{BatteryReading, Command, Input, Output, PersistedState};
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use watchlight_protocol::{
    ConditionId, EventKind, LifecycleState, Light, LightId, Part, Pattern, ProfileId, Settings,
    SettingsPatch,
};

/// The longest virtual time a script may ask for (31 days).
pub const MAX_UNTIL_MS: u64 = 31 * 24 * 3600 * 1000;

/// A script that does not make sense, with where: the step (0-based index into
/// `steps`, `None` for the top level) and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}field '{field}': {problem}", step.map(|i| format!("step {i}: ")).unwrap_or_default())]
pub struct ScriptError {
    pub step: Option<usize>,
    pub field: String,
    pub problem: String,
}

fn top(field: &str, problem: impl Into<String>) -> ScriptError {
    ScriptError {
        step: None,
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// A parsed, checked script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub profile: ProfileId,
    pub settings: Settings,
    pub steps: Vec<Step>,
    pub until_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub t_ms: u64,
    pub action: StepAction,
}

/// What a step does: an input for the core, or a settings change applied to the
/// settings the core has at that moment.
#[derive(Debug, Clone, PartialEq)]
pub enum StepAction {
    Input(Input),
    Settings(SettingsPatch),
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Light {
        t_ms: u64,
        condition: ConditionId,
        light: Light,
    },
    State {
        t_ms: u64,
        state: LifecycleState,
    },
    Event {
        t_ms: u64,
        kind: EventKind,
        data: Map<String, Value>,
    },
}

impl Script {
    /// Parses and checks a script; the error names the step and the field.
    pub fn parse(text: &str) -> Result<Script, ScriptError> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| top("(document)", format!("not valid JSON: {e}")))?;
        let Value::Object(doc) = doc else {
            return Err(top("(document)", "a script is a JSON object"));
        };
        for key in doc.keys() {
            if !["v", "profile", "settings", "armed", "steps", "until_ms"].contains(&key.as_str()) {
                return Err(top(key, "unknown field"));
            }
        }
        match doc.get("v") {
            Some(v) if v.as_u64() == Some(1) => {}
            Some(v) => return Err(top("v", format!("this build reads version 1, got {v}"))),
            None => return Err(top("v", "missing (use 1)")),
        }
        let profile: ProfileId = match doc.get("profile") {
            Some(Value::String(s)) => s.parse().map_err(|e| top("profile", format!("{e}")))?,
            Some(other) => return Err(top("profile", format!("expected a string, got {other}"))),
            None => return Err(top("profile", "missing")),
        };
        let mut settings = Settings::default();
        if let Some(patch) = doc.get("settings") {
            let patch: SettingsPatch = serde_json::from_value(patch.clone())
                .map_err(|e| top("settings", e.to_string()))?;
            settings = settings
                .patched(&patch)
                .map_err(|e| top("settings", e.to_string()))?;
        }
        match doc.get("armed") {
            None => {}
            Some(Value::Bool(b)) => settings.armed = *b,
            Some(other) => {
                return Err(top("armed", format!("expected true or false, got {other}")));
            }
        }
        let Some(Value::Array(raw_steps)) = doc.get("steps") else {
            return Err(top("steps", "missing or not an array"));
        };
        let profile_data = profile.profile();
        let mut steps = Vec::with_capacity(raw_steps.len());
        let mut last_t = 0;
        for (i, raw) in raw_steps.iter().enumerate() {
            let parsed = parse_step(raw, profile_data).map_err(|(field, problem)| ScriptError {
                step: Some(i),
                field,
                problem,
            })?;
            for step in &parsed {
                if step.t_ms < last_t {
                    return Err(ScriptError {
                        step: Some(i),
                        field: "t_ms".into(),
                        problem: format!(
                            "{} is earlier than the step before ({last_t}); steps must be in time order",
                            step.t_ms
                        ),
                    });
                }
                last_t = step.t_ms;
            }
            steps.extend(parsed);
        }
        let until_ms = match doc.get("until_ms") {
            None => last_t,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| top("until_ms", format!("expected milliseconds, got {v}")))?,
        };
        if until_ms < last_t {
            return Err(top(
                "until_ms",
                format!("{until_ms} is before the last step ({last_t})"),
            ));
        }
        if until_ms > MAX_UNTIL_MS {
            return Err(top(
                "until_ms",
                format!("{until_ms} is more than 31 days ({MAX_UNTIL_MS})"),
            ));
        }
        Ok(Script {
            profile,
            settings,
            steps,
            until_ms,
        })
    }

    /// Runs the script on a fresh, never set-up camera and returns the timeline, in the
    /// order things happened.
    pub fn run(&self) -> Vec<Entry> {
        let persisted = PersistedState {
            settings: self.settings.clone(),
            ..PersistedState::default()
        };
        let mut core = Core::new(self.profile.profile(), persisted, 0);
        let mut timeline = Vec::new();
        for step in &self.steps {
            let input = match &step.action {
                StepAction::Input(input) => input.clone(),
                StepAction::Settings(patch) => {
                    let next = core
                        .settings()
                        .patched(patch)
                        .unwrap_or_else(|_| core.settings().clone());
                    Input::Settings(Box::new(next))
                }
            };
            core.handle_input(step.t_ms, input);
            drain(&mut core, &mut timeline);
        }
        core.handle_timeout(self.until_ms);
        drain(&mut core, &mut timeline);
        timeline
    }
}

fn drain(core: &mut Core, timeline: &mut Vec<Entry>) {
    while let Some(out) = core.poll_output() {
        let t_ms = out.t_ms;
        match out.output {
            Output::Light { condition, light } => timeline.push(Entry::Light {
                t_ms,
                condition,
                light,
            }),
            Output::State(state) => timeline.push(Entry::State { t_ms, state }),
            Output::Event { kind, data } => timeline.push(Entry::Event { t_ms, kind, data }),
            _ => {}
        }
    }
}

type FieldError = (String, String);

fn field_err(field: &str, problem: impl Into<String>) -> FieldError {
    (field.to_string(), problem.into())
}

fn parse_step(
    raw: &Value,
    profile: &watchlight_protocol::Profile,
) -> Result<Vec<Step>, FieldError> {
    let Value::Object(obj) = raw else {
        return Err(field_err("(step)", "a step is a JSON object"));
    };
    let t_ms = match obj.get("t_ms") {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| field_err("t_ms", format!("expected milliseconds, got {v}")))?,
        None => return Err(field_err("t_ms", "missing")),
    };
    let name = match obj.get("input") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(field_err(
                "input",
                format!("expected a string, got {other}"),
            ));
        }
        None => return Err(field_err("input", "missing")),
    };
    let allowed: &[&str] = match name {
        "provision" => &["wifi"],
        "battery" => &["resting_mv", "loaded_mv", "temp_c"],
        "settings" => &["settings"],
        "cmd" => &["name"],
        "sensor_failed" | "sensor_ok" => &["part"],
        _ => &[],
    };
    for key in obj.keys() {
        if key != "t_ms" && key != "input" && !allowed.contains(&key.as_str()) {
            return Err(field_err(key, format!("unknown field for input '{name}'")));
        }
    }
    let at = |input: Input| Step {
        t_ms,
        action: StepAction::Input(input),
    };
    let one = |input: Input| Ok(vec![at(input)]);
    match name {
        "power_on" => one(Input::PowerOn),
        "provision" => match obj.get("wifi").map(|v| v.as_str()) {
            None | Some(Some("ok")) => one(Input::Provisioned),
            Some(Some("rejected")) => Ok(vec![at(Input::Provisioned), at(Input::WifiRejected)]),
            Some(_) => Err(field_err(
                "wifi",
                format!("expected \"ok\" or \"rejected\", got {}", obj["wifi"]),
            )),
        },
        "hub_connected" => one(Input::HubConnected),
        "hub_rejected" => one(Input::HubRejected),
        "link_lost" => one(Input::LinkLost),
        "link_restored" => one(Input::LinkRestored),
        "wifi_rejected" => one(Input::WifiRejected),
        "pir" if !profile.has_pir() => Err(field_err(
            "input",
            format!("pir on profile {}, which has no PIR sensor", profile.id),
        )),
        "pir" => one(Input::Pir),
        "motion_start" => one(Input::MotionStart),
        "motion_end" => one(Input::MotionEnd),
        "battery" if !profile.on_battery() => Err(field_err(
            "input",
            format!("battery on profile {}, which runs on mains", profile.id),
        )),
        "battery" => {
            let mv = |field: &str| -> Result<u32, FieldError> {
                match obj.get(field) {
                    Some(v) => v
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| field_err(field, format!("expected millivolts, got {v}"))),
                    None => Err(field_err(field, "missing")),
                }
            };
            let temp_c = match obj.get("temp_c") {
                None => 20.0,
                Some(v) => v
                    .as_f64()
                    .ok_or_else(|| field_err("temp_c", format!("expected a number, got {v}")))?
                    as f32,
            };
            one(Input::Battery(BatteryReading {
                resting_mv: mv("resting_mv")?,
                loaded_mv: mv("loaded_mv")?,
                temp_c,
            }))
        }
        "button_down" => one(Input::ButtonDown),
        "button_up" => one(Input::ButtonUp),
        "settings" => {
            let raw = obj
                .get("settings")
                .ok_or_else(|| field_err("settings", "missing (a partial settings document)"))?;
            let patch: SettingsPatch = serde_json::from_value(raw.clone())
                .map_err(|e| field_err("settings", e.to_string()))?;
            Settings::default()
                .patched(&patch)
                .map_err(|e| field_err("settings", e.to_string()))?;
            Ok(vec![Step {
                t_ms,
                action: StepAction::Settings(patch),
            }])
        }
        "armed" => one(Input::Armed(true)),
        "disarmed" => one(Input::Armed(false)),
        "cmd" => {
            let cmd_name = match obj.get("name") {
                Some(Value::String(s)) => s.as_str(),
                Some(other) => {
                    return Err(field_err("name", format!("expected a string, got {other}")));
                }
                None => return Err(field_err("name", "missing")),
            };
            let cmd = Command::parse(cmd_name).ok_or_else(|| {
                let known: Vec<_> = Command::ALL.iter().map(|c| c.as_str()).collect();
                field_err(
                    "name",
                    format!("unknown command '{cmd_name}' (known: {})", known.join(", ")),
                )
            })?;
            one(Input::Command(cmd))
        }
        "sensor_failed" | "sensor_ok" => {
            let part_name = match obj.get("part") {
                Some(Value::String(s)) => s.as_str(),
                Some(other) => {
                    return Err(field_err("part", format!("expected a string, got {other}")));
                }
                None => return Err(field_err("part", "missing")),
            };
            let part = Part::parse(part_name).ok_or_else(|| {
                let known: Vec<_> = Part::ALL.iter().map(|p| p.as_str()).collect();
                field_err(
                    "part",
                    format!("unknown part '{part_name}' (known: {})", known.join(", ")),
                )
            })?;
            if name == "sensor_ok" {
                one(Input::SensorOk(part))
            } else {
                one(Input::SensorFailed {
                    part,
                    reason: "failed in the script".into(),
                })
            }
        }
        other => Err(field_err("input", format!("unknown input '{other}'"))),
    }
}

#[derive(Serialize)]
struct LightLine {
    #[serde(rename = "type")]
    kind: &'static str,
    t_ms: u64,
    condition: &'static str,
    color: &'static str,
    pattern: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u8>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dim: bool,
}

#[derive(Serialize)]
struct StateLine {
    #[serde(rename = "type")]
    kind: &'static str,
    t_ms: u64,
    state: &'static str,
}

#[derive(Serialize)]
struct EventLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    t_ms: u64,
    event: &'static str,
    #[serde(flatten)]
    data: &'a Map<String, Value>,
}

impl Entry {
    pub fn t_ms(&self) -> u64 {
        match self {
            Entry::Light { t_ms, .. } | Entry::State { t_ms, .. } | Entry::Event { t_ms, .. } => {
                *t_ms
            }
        }
    }

    /// One JSON line: `{"type":"light","t_ms","condition","color","pattern"}` (+ `count`
    /// for a flash, `dim` for the dim idle light), `{"type":"state","t_ms","state"}`,
    /// `{"type":"event","t_ms","event",...data}`.
    pub fn to_json(&self) -> String {
        let line = match self {
            Entry::Light {
                t_ms,
                condition,
                light,
            } => serde_json::to_string(&LightLine {
                kind: "light",
                t_ms: *t_ms,
                condition: condition.as_str(),
                color: if light.pattern == Pattern::Off {
                    "none"
                } else {
                    light.color.as_str()
                },
                pattern: light.pattern.as_str(),
                count: match light.pattern {
                    Pattern::Flash { count } => Some(count),
                    _ => None,
                },
                dim: light.dim,
            }),
            Entry::State { t_ms, state } => serde_json::to_string(&StateLine {
                kind: "state",
                t_ms: *t_ms,
                state: state.as_str(),
            }),
            Entry::Event { t_ms, kind, data } => serde_json::to_string(&EventLine {
                kind: "event",
                t_ms: *t_ms,
                event: kind.as_str(),
                data,
            }),
        };
        line.expect("timeline lines always serialize")
    }

    /// The same line for a person: time in seconds, what changed, and what it means.
    pub fn to_human(&self) -> String {
        let t = self.t_ms();
        let mut out = format!("{:>5}.{:03} s  ", t / 1000, t % 1000);
        match self {
            Entry::Light {
                condition, light, ..
            } => {
                let id = LightId::of(*condition, *light);
                let _ = write!(
                    out,
                    "light  {:<18} {:<16} {id}: {}",
                    light.to_string(),
                    condition.as_str(),
                    id.meaning()
                );
            }
            Entry::State { state, .. } => {
                let _ = write!(out, "state  {state}");
            }
            Entry::Event { kind, data, .. } => {
                let _ = write!(out, "event  {kind}");
                if !data.is_empty() {
                    let _ = write!(out, " {}", Value::Object(data.clone()));
                }
            }
        }
        out
    }
}
