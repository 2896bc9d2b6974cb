//! The interactive troubleshooter as a state machine (no I/O): it proposes a question or
//! a repair, takes the answer or the outcome ("fixed", "not fixed", "can't do") and
//! re-plans. [`run_dialog`] puts words around it for a terminal.

use crate::case::{Case, When};
use crate::diagnose::{self, Diagnosis, Progress, StepAction};
use crate::ids::{ActionId, QuestionId};
use crate::infer;
use crate::kb::KnowledgeBase;
use crate::priors::Priors;
use crate::words;
use std::io::{self, BufRead, Write};
use watchlight_protocol::LightId;

/// What the doctor proposes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Ask(QuestionId),
    Repair(ActionId),
    /// No step is left that could help.
    Exhausted,
    /// The owner said a step fixed it.
    Fixed(ActionId),
}

/// What happened when the owner tried a repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Fixed,
    NotFixed,
    CantDo,
}

impl Outcome {
    /// "fixed", "not fixed", "can't do" and their short forms.
    pub fn parse(text: &str) -> Option<Outcome> {
        match normalise(text).as_str() {
            "fixed" | "f" | "yes" | "y" => Some(Outcome::Fixed),
            "not fixed" | "notfixed" | "not" | "n" | "no" => Some(Outcome::NotFixed),
            "can't do" | "cant do" | "cannot do" | "can't" | "cant" | "c" | "skip" => {
                Some(Outcome::CantDo)
            }
            _ => None,
        }
    }
}

fn normalise(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .replace('’', "'")
        .replace('_', " ")
}

/// An answer the doctor could not use, saying what it expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("I did not understand '{given}': please answer {expected}")]
pub struct AnswerError {
    pub question: QuestionId,
    pub given: String,
    pub expected: String,
}

pub struct Session<'kb> {
    kb: &'kb KnowledgeBase,
    case: Case,
    priors: Priors,
    progress: Progress,
    fixed_by: Option<ActionId>,
}

impl Session<'static> {
    pub fn new(case: Case, priors: Priors) -> Self {
        Session::with_kb(KnowledgeBase::shipped(), case, priors)
    }
}

impl<'kb> Session<'kb> {
    pub fn with_kb(kb: &'kb KnowledgeBase, case: Case, priors: Priors) -> Self {
        Session {
            kb,
            case,
            priors,
            progress: Progress::default(),
            fixed_by: None,
        }
    }

    pub fn case(&self) -> &Case {
        &self.case
    }

    pub fn kb(&self) -> &'kb KnowledgeBase {
        self.kb
    }

    pub fn priors(&self) -> &Priors {
        &self.priors
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    pub fn diagnosis(&self) -> Diagnosis {
        diagnose::diagnose_in(self.kb, &self.case, &self.priors, &self.progress)
    }

    pub fn next(&self) -> Next {
        if let Some(a) = self.fixed_by {
            return Next::Fixed(a);
        }
        let belief = diagnose::belief(self.kb, &self.case, &self.priors, &self.progress);
        let (steps, _) = diagnose::plan_in(self.kb, &self.case, &self.progress, &belief);
        match steps.first().map(|s| s.action) {
            Some(StepAction::Question(q)) => Next::Ask(q),
            Some(StepAction::Repair(a)) => Next::Repair(a),
            None => Next::Exhausted,
        }
    }

    /// Record the owner's answer; "skip", "?" or "don't know" leave the field empty and
    /// the question is not asked again.
    pub fn answer(&mut self, question: QuestionId, text: &str) -> Result<(), AnswerError> {
        let t = normalise(text);
        if matches!(
            t.as_str(),
            "" | "?" | "skip" | "don't know" | "dont know" | "unknown"
        ) {
            self.progress.unanswered.push(question);
            return Ok(());
        }
        let err = || AnswerError {
            question,
            given: text.trim().to_string(),
            expected: expected_answer(question),
        };
        let yes_no = || match t.as_str() {
            "yes" | "y" | "true" => Ok(true),
            "no" | "n" | "false" => Ok(false),
            _ => Err(err()),
        };
        let o = &mut self.case.observations;
        match question {
            QuestionId::AskLight => o.light = Some(words::parse_light(&t).ok_or_else(err)?),
            QuestionId::AskWhen => o.when = Some(words::parse_when(&t).ok_or_else(err)?),
            QuestionId::AskSetupCompleted => o.setup_completed = Some(yes_no()?),
            QuestionId::AskOtherDevicesOnline => o.other_devices_online = Some(yes_no()?),
            QuestionId::AskWifiPasswordChanged => o.wifi_password_changed = Some(yes_no()?),
            QuestionId::AskRecording => o.recording = Some(yes_no()?),
            QuestionId::AskHubOnline => o.hub_online = Some(yes_no()?),
            QuestionId::AskBatteryAgeMonths => {
                let months: f64 = t.parse().map_err(|_| err())?;
                if !(0.0..=240.0).contains(&months) {
                    return Err(err());
                }
                o.battery_age_months = Some(months);
            }
        }
        Ok(())
    }

    pub fn outcome(&mut self, action: ActionId, outcome: Outcome) {
        match outcome {
            Outcome::Fixed => self.fixed_by = Some(action),
            Outcome::NotFixed => self.progress.failed.push(action),
            Outcome::CantDo => self.progress.unavailable.push(action),
        }
    }

    pub fn fixed_by(&self) -> Option<ActionId> {
        self.fixed_by
    }

    /// Move the priors by what fixed it (nothing if nothing did).
    pub fn learn(&self, priors: &mut Priors) {
        if let Some(a) = self.fixed_by {
            priors.learn_fix(self.kb, &self.case, &self.progress.failed, a);
        }
    }
}

pub fn question_text(q: QuestionId) -> &'static str {
    match q {
        QuestionId::AskLight => "What does the camera's light show right now?",
        QuestionId::AskWhen => "When does it show that?",
        QuestionId::AskSetupCompleted => "Was this camera set up and working before?",
        QuestionId::AskOtherDevicesOnline => {
            "Do your other devices (phone on Wi-Fi, other cameras) have network?"
        }
        QuestionId::AskWifiPasswordChanged => "Did the Wi-Fi name or password change recently?",
        QuestionId::AskRecording => "Do clips appear in the app when you walk past the camera?",
        QuestionId::AskBatteryAgeMonths => "How many months ago did the batteries go in?",
        QuestionId::AskHubOnline => "Does the app show the hub running (hub light blue and green)?",
    }
}

pub fn expected_answer(q: QuestionId) -> String {
    match q {
        QuestionId::AskLight => format!(
            "the number or the words (\"blinking red\", \"solid blue\"...), or 'skip':\n{}",
            words::numbered(&LightId::ALL, words::light_choice)
        ),
        QuestionId::AskWhen => format!(
            "the number or the words, or 'skip':\n{}",
            words::numbered(&When::ALL, words::when_choice)
        ),
        QuestionId::AskBatteryAgeMonths => "a number of months, or 'skip'".into(),
        _ => "yes or no, or 'skip'".into(),
    }
}

/// An action in a few words (what the owner did).
pub fn action_title(a: ActionId) -> &'static str {
    match a {
        ActionId::WaitForSetup => "waiting for setup",
        ActionId::ReconnectWifi => "Reconnect Wi-Fi",
        ActionId::RestartRouter => "restarting the router",
        ActionId::MoveCloserOrExtender => "moving the camera closer or adding an extender",
        ActionId::CheckHub => "checking the hub",
        ActionId::ReplaceBatteries => "fresh batteries",
        ActionId::DisableMotionIndicator => "switching off the motion indicator",
        ActionId::ArmOrEnableMotion => "arming the system",
        ActionId::AdjustZones => "adjusting the activity zones",
        ActionId::FreeStorage => "freeing space on the hub",
        ActionId::RebootCamera => "rebooting the camera",
        ActionId::FactoryReset => "a factory reset",
        ActionId::ContactSupport => "support",
    }
}

pub fn action_text(a: ActionId) -> &'static str {
    match a {
        ActionId::WaitForSetup => {
            "Wait two minutes for setup to finish (red slow blink, green blink, then blue)."
        }
        ActionId::ReconnectWifi => {
            "In the app, open the camera and choose Reconnect Wi-Fi; enter the current Wi-Fi password."
        }
        ActionId::RestartRouter => {
            "Restart your router: unplug it for 30 s, plug it back in, wait for it to come up."
        }
        ActionId::MoveCloserOrExtender => {
            "Move the camera closer to the router, or add a Wi-Fi extender between them."
        }
        ActionId::CheckHub => {
            "Check the hub: is it plugged in and its light blue and green? Restart it if not."
        }
        ActionId::ReplaceBatteries => "Replace the batteries with two fresh AA lithium cells.",
        ActionId::DisableMotionIndicator => {
            "In the camera's settings, switch off the motion indicator."
        }
        ActionId::ArmOrEnableMotion => {
            "Arm the system in the app, and check the camera's motion detection is on."
        }
        ActionId::AdjustZones => {
            "Open the camera's activity zones and switch on the cells where motion happens."
        }
        ActionId::FreeStorage => {
            "Free space on the hub: delete old clips or raise the storage budget."
        }
        ActionId::RebootCamera => {
            "Reboot the camera: take the batteries out (or unplug it) for 5 s."
        }
        ActionId::FactoryReset => {
            "Factory reset: hold the reset button 5-6 s until red fast blink, release, then set it up again."
        }
        ActionId::ContactSupport => {
            "Contact support with the camera's support bundle: the \"Support bundle\" button on the camera's page in the web app, or from the hub's API (GET /api/v1/cameras/<id>/bundle; GET /api/v1/bundle for the whole hub)."
        }
    }
}

/// How a dialog ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogEnd {
    Fixed(ActionId),
    Exhausted,
    /// The input ended (the owner left).
    Left,
}

/// Talk the owner through the session over a line-based terminal.
pub fn run_dialog(
    session: &mut Session<'_>,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> io::Result<DialogEnd> {
    writeln!(out, "Watchlight doctor: why is my camera flashing red?")?;
    let mut shown_top = None;
    loop {
        let diagnosis = session.diagnosis();
        let top = &diagnosis.causes[0];
        if shown_top != Some(top.id) {
            writeln!(out, "Most likely ({:.0} %): {}", top.p * 100.0, top.why)?;
            if let Some(second) = diagnosis.causes.get(1).filter(|c| c.p >= 0.05) {
                writeln!(
                    out,
                    "Also possible ({:.0} %): {}",
                    second.p * 100.0,
                    infer::title(second.id)
                )?;
            }
            shown_top = Some(top.id);
        }
        match session.next() {
            Next::Fixed(a) => {
                writeln!(
                    out,
                    "Glad it works again: \"{}\" fixed it.",
                    action_title(a)
                )?;
                return Ok(DialogEnd::Fixed(a));
            }
            Next::Exhausted => {
                writeln!(
                    out,
                    "I have no further step that could help. Please contact support with the camera's support bundle (the \"Support bundle\" button in the web app, or GET /api/v1/cameras/<id>/bundle from the hub)."
                )?;
                return Ok(DialogEnd::Exhausted);
            }
            Next::Ask(q) => {
                writeln!(out, "Question: {}", question_text(q))?;
                writeln!(out, "  Answer {}.", expected_answer(q))?;
                loop {
                    write!(out, "> ")?;
                    out.flush()?;
                    let Some(line) = read_line(input)? else {
                        return Ok(DialogEnd::Left);
                    };
                    match session.answer(q, &line) {
                        Ok(()) => break,
                        Err(e) => writeln!(out, "{e}")?,
                    }
                }
            }
            Next::Repair(a) => {
                let step = &diagnosis.plan[0];
                writeln!(
                    out,
                    "Next step (about {} min, {:.0} % chance it fixes it): {}",
                    step.cost_min,
                    step.p_fix * 100.0,
                    action_text(a)
                )?;
                if let Some(hint) = diagnose::if_not_fixed(
                    session.kb(),
                    session.case(),
                    session.priors(),
                    session.progress(),
                    a,
                ) {
                    writeln!(out, "  {hint}")?;
                }
                loop {
                    write!(out, "Did that fix it? [fixed / not fixed / can't do] > ")?;
                    out.flush()?;
                    let Some(line) = read_line(input)? else {
                        return Ok(DialogEnd::Left);
                    };
                    match Outcome::parse(&line) {
                        Some(o) => {
                            session.outcome(a, o);
                            if o != Outcome::Fixed {
                                writeln!(out, "Noted. Re-planning.")?;
                            }
                            break;
                        }
                        None => writeln!(out, "Please answer 'fixed', 'not fixed' or 'can't do'.")?,
                    }
                }
            }
        }
    }
}

fn read_line(input: &mut dyn BufRead) -> io::Result<Option<String>> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim().to_string()))
}
