//! `studio-warden`: the operator CLI (see `studio-warden --help` and [`warden::operator`]).
//! Everything is in the library; this only wires the process to it: arguments, environment,
//! standard output and error, exit status. `RUST_LOG=debug` shows the library's logs on
//! standard error.

use std::io::Write;
use std::process::ExitCode;

use warden::operator::{Environment, Output, run};

#[tokio::main]
async fn main() -> ExitCode {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let var = |key: &str| std::env::var(key).ok();
    let env = Environment {
        var: &var,
        sdk: None,
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    let mut out = Output::default();
    let exit = run(std::env::args_os(), &env, &mut out).await;
    // A closed pipe (`studio-warden ... | head`) is not an error of the command.
    let _ = std::io::stdout().write_all(out.stdout.as_bytes());
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    ExitCode::from(exit.code())
}
