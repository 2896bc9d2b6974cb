//! The doctor's answer with the words the app shows: each cause's title, each step's
//! instruction, and for a question its text and the answers it takes. The ids stay, so
//! the app sends back exactly what the doctor understands.

use serde_json::{Value, json};
use watchlight_doctor::case::When;
use watchlight_doctor::infer::title;
use watchlight_doctor::session::{action_text, question_text};
use watchlight_doctor::{Diagnosis, StepAction};
use watchlight_protocol::LightId;

pub fn json(d: &Diagnosis) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or_else(|_| json!({}));
    if let Some(causes) = v.get_mut("causes").and_then(Value::as_array_mut) {
        for (c, cause) in causes.iter_mut().zip(&d.causes) {
            c["title"] = json!(title(cause.id));
        }
    }
    if let Some(plan) = v.get_mut("plan").and_then(Value::as_array_mut) {
        for (s, step) in plan.iter_mut().zip(&d.plan) {
            match step.action {
                StepAction::Repair(a) => s["text"] = json!(action_text(a)),
                StepAction::Question(q) => {
                    let id = q.as_str();
                    let field = id.strip_prefix("ask_").unwrap_or(id);
                    s["text"] = json!(question_text(q));
                    s["field"] = json!(field);
                    s["answers"] = answers(field);
                }
            }
        }
    }
    v
}

/// What a question takes: `{"type": "choice", "options": [{value, label}]}`, a yes/no,
/// or a number.
fn answers(field: &str) -> Value {
    match field {
        "light" => json!({"type": "choice", "options": LightId::ALL.iter().map(|l| json!({
            "value": l.as_str(), "label": l.meaning(),
        })).collect::<Vec<_>>()}),
        "when" => json!({"type": "choice", "options": When::ALL.iter().map(|w| json!({
            "value": w.as_str(), "label": w.as_str().replace('_', " "),
        })).collect::<Vec<_>>()}),
        "battery_age_months" => json!({"type": "number", "min": 0, "max": 240, "unit": "months"}),
        _ => json!({"type": "yes_no"}),
    }
}
