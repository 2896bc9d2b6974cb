//! Live mode: the doctor asks a running hub about one camera ([`HubClient`], the HTTP
//! edge in `client.rs`) and decides what to do when the hub does not answer. A hub
//! that does not answer is itself the trouble owners run the doctor for (SPEC §8
//! `hub_unreachable`, `network_down`): the doctor then carries on from the owner's case
//! with what this machine measured (the hub did not answer, and whether the router
//! did). Any other failure (401, 404, 5xx, a certificate that is not the pinned one)
//! stops it: the hub answered, and the owner must fix the call, not the camera.

mod client;

pub use client::{HubClient, LiveError, Timeouts, fetch_case};

use crate::case::Case;
use crate::ids::{ActionId, FaultId};
use crate::kb::KnowledgeBase;
use crate::priors::Priors;
use crate::{infer, netprobe, session};
use std::net::IpAddr;

/// Where live mode's case came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// The hub built it from what it knows.
    FromHub(Case),
    /// The hub did not answer: what the owner gave and this machine measured.
    Unanswered {
        case: Case,
        /// Why the hub counts as silent, in words.
        cause: String,
        /// The router probed (`None`: this machine's default gateway).
        router: Option<IpAddr>,
        /// Whether it answered (`None`: this machine cannot tell).
        router_answered: Option<bool>,
    },
}

impl Fetched {
    pub fn case(&self) -> &Case {
        match self {
            Fetched::FromHub(case) | Fetched::Unanswered { case, .. } => case,
        }
    }

    pub fn into_case(self) -> Case {
        match self {
            Fetched::FromHub(case) | Fetched::Unanswered { case, .. } => case,
        }
    }

    pub fn from_hub(&self) -> bool {
        matches!(self, Fetched::FromHub(_))
    }

    /// What the owner is told about a hub that did not answer (nothing otherwise), one
    /// note a line.
    pub fn notes(&self, hub: &str) -> Vec<String> {
        let Fetched::Unanswered {
            cause,
            router,
            router_answered,
            ..
        } = self
        else {
            return Vec::new();
        };
        let probed = match router {
            Some(ip) => format!("the router at {ip}"),
            None => "the router (this machine's default gateway)".to_string(),
        };
        vec![
            format!("the hub at {hub} did not answer ({cause}); diagnosing from what you tell me"),
            match router_answered {
                Some(true) => format!("{probed} answered"),
                Some(false) => format!("{probed} did not answer either"),
                None => {
                    "could not tell whether the router answers (no routing table to read)".into()
                }
            },
        ]
    }
}

/// Live mode on one camera of one hub.
#[derive(Debug)]
pub struct LiveMode {
    client: HubClient,
    camera: String,
}

impl LiveMode {
    pub fn new(client: HubClient, camera: &str) -> LiveMode {
        LiveMode {
            client,
            camera: camera.to_string(),
        }
    }

    pub fn camera(&self) -> &str {
        &self.camera
    }

    /// The hub's case for the camera or, when the hub does not answer, `base` (the
    /// owner's case, or nothing) with what this machine measured: the hub did not
    /// answer, and whether the router (`router`, else the default gateway) did. Any
    /// other failure is returned: something answered in a way we refuse.
    pub fn case(&self, base: Case, router: Option<IpAddr>) -> Result<Fetched, LiveError> {
        self.case_probing(base, router, netprobe::router_answers)
    }

    fn case_probing(
        &self,
        base: Case,
        router: Option<IpAddr>,
        probe: impl FnOnce(Option<IpAddr>) -> Option<bool>,
    ) -> Result<Fetched, LiveError> {
        match self.client.case(&self.camera) {
            Ok(case) => Ok(Fetched::FromHub(case)),
            Err(LiveError::HubUnreachable { cause, .. }) => {
                let router_answered = probe(router);
                let mut case = base;
                case.telemetry.hub_answered = Some(false);
                case.telemetry.router_answered = router_answered;
                Ok(Fetched::Unanswered {
                    case,
                    cause,
                    router,
                    router_answered,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The priors to diagnose with when the owner named no priors file: the hub's
    /// learned ones when the hub gave the case, else the shipped ones (a hub that did
    /// not answer has none to give: it is not asked again). A hub that cannot give them
    /// leaves the shipped ones, with a note why (the diagnosis is still right, only not
    /// personalised).
    pub fn priors(&self, fetched: &Fetched) -> (Priors, Option<String>) {
        if !fetched.from_hub() {
            return (Priors::default(), None);
        }
        match self.client.priors() {
            Ok(priors) => (priors, None),
            Err(e) => (
                Priors::default(),
                Some(format!(
                    "using the shipped priors; the hub's learned ones: {e}"
                )),
            ),
        }
    }

    /// Tells the hub that `action` ended the trouble after `failed` did not, naming the
    /// fault it most likely cured. `Ok` is what to tell the owner; `Err` a warning.
    pub fn report_fix(
        &self,
        priors: &Priors,
        case: &Case,
        failed: &[ActionId],
        action: ActionId,
    ) -> Result<String, String> {
        let kb = KnowledgeBase::shipped();
        let fault: FaultId = priors
            .fault_fixed_by(kb, case, failed, action)
            .ok_or_else(|| format!("{action} fixes none of the faults the doctor knows"))?;
        self.client
            .confirm(&self.camera, fault, action)
            .map_err(|e| format!("could not tell the hub what fixed it: {e}"))?;
        Ok(format!(
            "Told the hub that \"{}\" fixed it ({}); it will weigh that next time.",
            session::action_title(action),
            infer::title(fault).to_lowercase(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn silent_hub() -> LiveMode {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = HubClient::new(&format!("http://127.0.0.1:{port}"), None, None)
            .unwrap()
            .with_timeouts(Timeouts {
                connect: Duration::from_millis(500),
                answer: Duration::from_millis(300),
            });
        LiveMode::new(client, "cam-1")
    }

    #[test]
    fn a_hub_that_does_not_answer_leaves_the_owners_case_with_what_was_measured() {
        let live = silent_hub();
        let mut base = Case::default();
        base.telemetry.battery_loaded_mv = vec![2600.0];
        let router = Some(IpAddr::from([192, 168, 1, 1]));
        let fetched = live
            .case_probing(base.clone(), router, |r| {
                assert_eq!(r, router);
                Some(false)
            })
            .unwrap();
        assert!(!fetched.from_hub());
        let case = fetched.case();
        assert_eq!(case.telemetry.hub_answered, Some(false));
        assert_eq!(case.telemetry.router_answered, Some(false));
        assert_eq!(
            case.telemetry.battery_loaded_mv,
            base.telemetry.battery_loaded_mv
        );
        let notes = fetched.notes("http://hub");
        assert!(
            notes[0].contains("did not answer (connection refused"),
            "{notes:?}"
        );
        assert_eq!(notes[1], "the router at 192.168.1.1 did not answer either");
        // A hub that did not answer is not asked for its priors.
        let (priors, note) = live.priors(&fetched);
        assert_eq!((priors, note), (Priors::default(), None));
        // Telling it what fixed the camera fails with a warning, not an error.
        let warning = live
            .report_fix(&Priors::default(), case, &[], ActionId::ReplaceBatteries)
            .unwrap_err();
        assert!(warning.starts_with("could not tell the hub"), "{warning}");
    }
}
