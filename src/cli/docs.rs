//! `hsflow completions SHELL` and `hsflow man`: generated from the same clap
//! definition as the commands themselves, so they can't fall out of date.
//!
//! Output piped into `head` may be cut short: a closed pipe ends the
//! command quietly, as it does for any Unix tool.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use super::Cli;

/// Write `bytes` to standard output; a reader that stopped reading is no error.
pub fn to_stdout(bytes: &[u8], what: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hsflow: can't write {what}: {e}");
            ExitCode::from(2)
        }
    }
}

pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "hsflow", &mut script);
    to_stdout(&script, "the completion script")
}

/// The manual page of hsflow, or with `out` every page (`hsflow.1`,
/// `hsflow-serve.1`, ...: the subcommands' flags and the environment) in that folder.
pub fn man(out: Option<&Path>) -> ExitCode {
    let cmd = Cli::command();
    if let Some(dir) = out {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("hsflow: can't create {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        return match clap_mangen::generate_to(cmd, dir) {
            Ok(()) => {
                println!(
                    "manual pages written to {}: man -l {}/hsflow.1",
                    dir.display(),
                    dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hsflow: can't write the manual pages: {e}");
                ExitCode::from(2)
            }
        };
    }
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(cmd).render(&mut page) {
        eprintln!("hsflow: can't make the manual page: {e}");
        return ExitCode::from(2);
    }
    to_stdout(&page, "the manual page")
}
