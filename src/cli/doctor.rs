//! `watchlight doctor`: the troubleshooter from the command line.
//!
//! - `watchlight doctor` talks the owner through it in the terminal (asks, proposes,
//!   takes "fixed / not fixed / can't do", re-plans), optionally starting from
//!   `--case FILE`, or from a running hub with `--hub URL --camera ID`. A hub that does
//!   not answer is itself the trouble owners run the doctor for (SPEC §8
//!   `hub_unreachable`, `network_down`): the doctor then says so, probes the home's
//!   router from this machine and carries on from what the owner tells it.
//! - `watchlight doctor diagnose --case FILE --json` answers a case file offline.
//! - `watchlight doctor eval --json` scores the doctor on simulated faulty cameras.

use super::UsageError;
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use watchlight_doctor::session::{self, DialogEnd, Session};
use watchlight_doctor::{
    Case, Diagnosis, KnowledgeBase, Priors, StepKind, diagnose, eval, live, netprobe,
};

/// Live mode: the hub to ask and the camera to ask about.
struct Live {
    client: live::HubClient,
    camera: String,
    hub: String,
}

impl Live {
    fn connect(args: &DoctorArgs, hub: &str, camera: &str) -> anyhow::Result<Live> {
        let cert = match &args.hub_cert {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                UsageError(format!(
                    "cannot read the hub certificate {}: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let token = args
            .token
            .clone()
            .or_else(|| std::env::var("WATCHLIGHT_TOKEN").ok());
        let client = live::HubClient::new(hub, cert.as_deref(), token)
            .map_err(|e| UsageError(e.to_string()))?;
        Ok(Live {
            client,
            camera: camera.to_string(),
            hub: hub.to_string(),
        })
    }

    /// The hub's case for the camera, or — when the hub does not answer — `base` (the
    /// owner's `--case FILE`, or nothing) with what this machine measured: the hub did
    /// not answer, and whether the router did. Any other failure (401, 404, 5xx, a
    /// certificate that is not the pinned one) stops the doctor: the hub answered, and
    /// the owner must fix the call, not the camera.
    fn case(&self, base: Case, router: Option<IpAddr>) -> anyhow::Result<Fetched> {
        match self.client.case(&self.camera) {
            Ok(case) => Ok(Fetched::FromHub(case)),
            Err(live::LiveError::HubUnreachable { cause, .. }) => {
                eprintln!(
                    "note: the hub at {} did not answer ({cause}); diagnosing from what you tell me",
                    self.hub
                );
                let router_answered = netprobe::router_answers(router);
                let probed = match router {
                    Some(ip) => format!("the router at {ip}"),
                    None => "the router (this machine's default gateway)".to_string(),
                };
                match router_answered {
                    Some(true) => eprintln!("note: {probed} answered"),
                    Some(false) => eprintln!("note: {probed} did not answer either"),
                    None => eprintln!(
                        "note: could not tell whether the router answers (no routing table to read)"
                    ),
                }
                let mut case = base;
                case.telemetry.hub_answered = Some(false);
                case.telemetry.router_answered = router_answered;
                Ok(Fetched::Unanswered(case))
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!(
                "fetching the case of camera {} from {}",
                self.camera, self.hub
            ))),
        }
    }

    /// The hub's learned priors; a hub that cannot give them leaves the shipped ones
    /// (said on stderr: the diagnosis is still right, only not personalised).
    fn priors(&self) -> Priors {
        self.client.priors().unwrap_or_else(|e| {
            eprintln!("note: using the shipped priors; the hub's learned ones: {e}");
            Priors::default()
        })
    }
}

/// Where live mode's case came from.
enum Fetched {
    /// The hub built it from what it knows.
    FromHub(Case),
    /// The hub did not answer: what the owner gave and this machine measured.
    Unanswered(Case),
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DoctorArgs {
    #[command(subcommand)]
    command: Option<DoctorCommand>,
    /// Start from this case file (what is already known). Live, the hub's case replaces
    /// it; it counts only when the hub does not answer.
    #[arg(long)]
    case: Option<PathBuf>,
    /// Learned priors (JSON); a confirmed fix updates them.
    #[arg(long)]
    priors: Option<PathBuf>,
    /// Live mode: the hub's URL (https://host:port; http:// for an --insecure hub).
    #[arg(long, requires = "camera")]
    hub: Option<String>,
    /// Live mode: the hub's certificate (PEM, hub-cert.pem in its data folder), pinned
    /// for https://.
    #[arg(long, requires = "hub")]
    hub_cert: Option<PathBuf>,
    /// Live mode: the camera's device id.
    #[arg(long, requires = "hub")]
    camera: Option<String>,
    /// Live mode: the owner's API token, sent as `Authorization: Bearer` (default: the
    /// WATCHLIGHT_TOKEN environment variable).
    #[arg(long)]
    token: Option<String>,
    /// Live mode: the home router's IP address, probed when the hub does not answer
    /// (default: this machine's default gateway).
    #[arg(long, requires = "hub")]
    router: Option<IpAddr>,
    /// Print the diagnosis as JSON instead of talking it through.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
enum DoctorCommand {
    /// Diagnose a case file offline.
    Diagnose {
        #[arg(long)]
        case: PathBuf,
        /// Print the SPEC §8 JSON.
        #[arg(long)]
        json: bool,
        /// Learned priors (JSON) to use instead of the shipped priors alone.
        #[arg(long)]
        priors: Option<PathBuf>,
    },
    /// Score the doctor on simulated faulty cameras drawn from physical models.
    Eval {
        #[arg(long)]
        json: bool,
        /// Reporting seed (the knowledge base was tuned on seed 1 only).
        #[arg(long, default_value_t = eval::REPORT_SEED)]
        seed: u64,
        #[arg(long, default_value_t = 2000)]
        cases: usize,
    },
}

pub fn run(args: DoctorArgs) -> anyhow::Result<()> {
    match args.command {
        Some(DoctorCommand::Diagnose { case, json, priors }) => {
            let case = read_case(&case)?;
            let priors = read_priors(priors.as_deref(), false)?;
            print_diagnosis(&diagnose(&case, &priors), json)
        }
        Some(DoctorCommand::Eval { json, seed, cases }) => {
            let report = eval::run(KnowledgeBase::shipped(), seed, cases);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "seed {seed}, {cases} cases: top-1 {:.1} % from the case as given \
                     ({:.1} % after the doctor's questions); \
                     cost {:.1} min vs the guide's {:.1} min ({:.0} %); plan ECR {:.2} vs optimum {:.2} (gap {:.2} %)",
                    report.top1_accuracy * 100.0,
                    report.top1_accuracy_after_questions * 100.0,
                    report.mean_cost_doctor_min,
                    report.mean_cost_guide_min,
                    report.cost_ratio_vs_guide * 100.0,
                    report.optimum.mean_plan_ecr_min,
                    report.optimum.mean_optimal_ecr_min,
                    report.optimum.gap * 100.0
                );
            }
            Ok(())
        }
        None => interactive(args),
    }
}

fn read_case(path: &Path) -> anyhow::Result<Case> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read case file {}: {e}", path.display())))?;
    Case::from_json(&text).map_err(|e| UsageError(format!("{}: {e}", path.display())).into())
}

fn read_priors(path: Option<&Path>, may_be_new: bool) -> anyhow::Result<Priors> {
    let Some(path) = path else {
        return Ok(Priors::default());
    };
    let loaded = if may_be_new {
        Priors::load_or_default(path)
    } else {
        Priors::load(path)
    };
    loaded.map_err(|e| UsageError(e.to_string()).into())
}

fn print_diagnosis(d: &Diagnosis, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(d)?);
        return Ok(());
    }
    println!("Most likely causes:");
    for c in d.causes.iter().filter(|c| c.p >= 0.01).take(5) {
        println!("  {:>5.1} %  {:<26} {}", c.p * 100.0, c.id.as_str(), c.why);
    }
    println!(
        "Plan (expected {:.1} min until it works again):",
        d.expected_cost_min
    );
    for s in &d.plan {
        let what = match s.kind {
            StepKind::Question => "ask",
            StepKind::Repair => "do",
        };
        println!(
            "  {:>2}. {what:<3} {:<26} {:>5.1} min  {:>5.1} % chance it ends the trouble",
            s.step,
            s.action.as_str(),
            s.cost_min,
            s.p_fix * 100.0
        );
    }
    Ok(())
}

fn interactive(args: DoctorArgs) -> anyhow::Result<()> {
    let live = match (&args.hub, &args.camera) {
        (Some(hub), Some(camera)) => Some(Live::connect(&args, hub, camera)?),
        _ => None,
    };
    let owners = match &args.case {
        Some(path) => read_case(path)?,
        None => Case::default(),
    };
    let (case, from_hub) = match &live {
        Some(live) => match live.case(owners, args.router)? {
            Fetched::FromHub(case) => (case, true),
            Fetched::Unanswered(case) => (case, false),
        },
        None => (owners, false),
    };
    // Live, the hub's learned priors count unless a priors file is named (a hub that
    // did not answer has none to give: the shipped ones, without asking it again).
    let mut priors = match (&live, &args.priors) {
        (Some(live), None) if from_hub => live.priors(),
        _ => read_priors(args.priors.as_deref(), true)?,
    };
    if args.json {
        let diagnosis = diagnose(&case, &priors);
        if live.is_some() {
            // Live, the case the doctor used goes beside SPEC §8's keys: the owner (and
            // support) can see what the hub said, or what was measured without it.
            let mut v = serde_json::to_value(&diagnosis)?;
            v["case"] = serde_json::to_value(&case)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        return print_diagnosis(&diagnosis, true);
    }
    let mut session = Session::new(case, priors.clone());
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout();
    let end = session::run_dialog(&mut session, &mut input as &mut dyn BufRead, &mut out)?;
    let DialogEnd::Fixed(action) = end else {
        return Ok(());
    };
    if let Some(live) = &live {
        let kb = KnowledgeBase::shipped();
        let failed = &session.progress().failed;
        match priors.fault_fixed_by(kb, session.case(), failed, action) {
            Some(fault) => match live.client.confirm(&live.camera, fault, action) {
                Ok(()) => writeln!(
                    out,
                    "Told the hub: {action} fixed {fault} on {}; it will weigh that next time.",
                    live.camera
                )?,
                Err(e) => eprintln!("warning: could not tell the hub what fixed it: {e}"),
            },
            None => eprintln!("warning: {action} fixes none of the faults the doctor knows"),
        }
    }
    if let Some(path) = &args.priors {
        session.learn(&mut priors);
        priors.save(path)?;
        writeln!(
            out,
            "Learned from this fix: priors saved to {}.",
            path.display()
        )?;
    }
    Ok(())
}
