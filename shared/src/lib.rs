//! studio-warden keeps SageMaker Studio user profiles in lockstep with IAM Identity Center
//! groups. This crate is the whole product behind two thin Lambda binaries:
//!
//! - pure: [`policy`], [`naming`], [`events`] (classification), [`desired`], [`planner`];
//! - ports: [`ports`] (Directory, Studio, Ledger);
//! - adapters: [`adapters`], one per port over the real aws-sdk-rust client;
//! - [`engine`]: subjects -> observe -> plan -> apply -> record;
//! - [`service`]: routes each kind of input (membership change, drift change, sweep, plan, skip)
//!   and answers one typed report;
//! - [`runtime`]: the Lambda edge: configuration from the environment, clients built once, the
//!   handler, init errors;
//! - [`operator`]: the operator CLI (`studio-warden explain`, `history`, `holds`, `approve`,
//!   `plan`, `sweeps`, `findings`, `check-policy`) over the same settings, clients and engine.

pub mod adapters;
pub mod catalogue;
pub mod cidr;
pub mod clock;
pub mod deadline;
pub mod desired;
pub mod drift;
pub mod engine;
pub mod error;
pub mod events;
pub mod fanout;
pub mod ids;
pub mod metrics;
pub mod model;
pub mod naming;
pub mod operator;
pub mod planner;
pub mod policy;
pub mod ports;
pub mod runtime;
pub mod safety;
pub mod service;
pub mod template;

pub use error::{Result, WardenError};
