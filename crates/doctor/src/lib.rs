//! The troubleshooter: knowledge base, inference, decision-theoretic repair planning.
//!
//! A [`Case`] (what the owner sees and what the hub knows) goes in; a [`Diagnosis`]
//! (causes with reasons, a plan of steps, the expected cost of repair) comes out. The
//! knowledge base is a data file embedded in the crate (`data/knowledge.toml`) with a
//! reason beside every number. Learned [`Priors`] shift the ranking as owners confirm
//! fixes. [`session::Session`] drives the interactive troubleshooter without doing I/O;
//! [`eval`] scores the doctor on simulated faulty cameras drawn from physical models.

pub mod case;
pub mod corpus;
pub mod diagnose;
pub mod eval;
pub mod evidence;
pub mod ids;
pub mod infer;
pub mod joint;
pub mod kb;
pub mod live;
pub mod netprobe;
pub mod plan;
pub mod priors;
pub mod session;
pub mod words;

pub use case::{
    Case, CaseError, CaseSettings, HubNetwork, Observations, SeenAvailability, Telemetry, When,
};
pub use diagnose::{Cause, Diagnosis, Step, StepAction, StepKind, diagnose};
pub use ids::{ActionId, FaultId, QuestionId};
pub use kb::KnowledgeBase;
pub use priors::{Priors, PriorsError};
