//! The `hsflow` command line.
//!
//! Exit codes follow one rule across commands: 0 success, 1 the input has
//! problems (lint errors, failing tests), 2 hsflow couldn't do its job
//! (usage, I/O).

mod check;
mod docs;
mod export;
mod init;
mod lint;
pub mod logging;
mod remote;
mod render;
mod schedules;
mod schema;
mod serve;
mod simulate;
mod test;
mod whatif_words;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "hsflow",
    version,
    about = "A declarative rules engine for webhook-driven workflows"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the rules and templates live; shared by every command that loads them.
#[derive(clap::Args, Clone)]
pub struct RuleDirs {
    /// The rules directory.
    #[arg(long, env = "HSFLOW_RULES", default_value = "rules")]
    pub rules: PathBuf,
    /// The templates directory.
    #[arg(long, env = "HSFLOW_TEMPLATES", default_value = "templates")]
    pub templates: PathBuf,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LintFormat {
    Human,
    Json,
    Github,
}

#[derive(Subcommand)]
enum Command {
    /// Check rule files and templates: schema, references, expressions, paths.
    Lint {
        #[command(flatten)]
        dirs: RuleDirs,
        #[arg(long, value_enum, default_value = "human")]
        format: LintFormat,
        /// Only these files' problems (the whole project is still read); `-` reads one from standard input.
        files: Vec<PathBuf>,
        /// With `-`: which file standard input holds, e.g. rules/flows/art_sale.toml.
        #[arg(long)]
        stdin_path: Option<PathBuf>,
    },
    /// Serve webhooks: store every accepted event, carry out its actions (delayed ones when due).
    #[command(after_long_help = serve::ENVIRONMENT)]
    Serve(serve::Args),
    /// Show what a webhook would do: the rules it meets, why they fire or not, the actions. No side effects.
    Simulate(simulate::Args),
    /// Check the configuration for real use: secrets, sinks, Notion databases and their schemas, SMTP.
    Check {
        #[command(flatten)]
        dirs: RuleDirs,
    },
    /// Run the rule test cases in rules/tests/.
    Test {
        #[command(flatten)]
        dirs: RuleDirs,
        /// Only cases whose name contains this.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Write stored events with their actions as JSON lines (e.g. before a retention removes them).
    Export(export::Args),
    /// Print a shell completion script: `hsflow completions bash > /etc/bash_completion.d/hsflow`.
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff): `hsflow man > hsflow.1; man -l hsflow.1`; with --out, every page.
    Man {
        /// Write every page (hsflow.1 and one per command: hsflow-serve.1, ...) into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Start a rules project in DIR: one source, one flow, one email, one test, the schemas; it lints and tests clean.
    Init { dir: PathBuf },
    /// List the rule versions a running server has run: when and how each went live, and by whom.
    Versions {
        #[command(flatten)]
        server: remote::Server,
    },
    /// Show what changed between two rule versions as unified diffs (`live` names the one in force); exit 1 when they differ.
    Diff {
        #[command(flatten)]
        server: remote::Server,
        /// The older version (its first 6 or more hex digits, as `hsflow versions` lists them).
        from: String,
        /// The newer version.
        #[arg(default_value = "live")]
        to: String,
    },
    /// Write a stored version's files back to the server's rules/ and templates/ (only if they lint clean) and reload.
    Rollback {
        #[command(flatten)]
        server: remote::Server,
        /// The version to go back to.
        version: String,
    },
    /// Replay a running server's stored events through its live rules and the local files; say what would change. Exit 0 with no differences, 1 with some.
    Whatif(remote::WhatIfArgs),
    /// List each schedule of rules/schedules.toml and the next five times it fires, on its zone's clock and in UTC.
    Schedules {
        #[command(flatten)]
        dirs: RuleDirs,
    },
    /// Send one rendered email or notification of a running server's rules to an address or channel, marked [TEST].
    SendTest(remote::SendTestArgs),
    /// Write the JSON Schemas of every rule file kind.
    Schema {
        /// Where to write them.
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
        /// Don't write: exit 1 if the files under --out differ from what would be written.
        #[arg(long)]
        check: bool,
    },
}

/// A tokio runtime for a command that talks to the network or the store;
/// when one can't be made, the reason is printed and the exit code returned.
pub fn runtime(threads: Threads) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::Many => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build().map_err(|e| {
        eprintln!("hsflow: can't start the runtime: {e}");
        ExitCode::from(2)
    })
}

/// How many threads a command's runtime has: the server uses every core.
pub enum Threads {
    One,
    Many,
}

/// Load the rule set, or print why it can't be loaded (as lint would) and give up.
pub fn load_or_report(dirs: &RuleDirs) -> Option<crate::rules::RuleSet> {
    let loaded = crate::rules::load(&dirs.rules, &dirs.templates);
    if loaded.ruleset.is_none() {
        for d in loaded.errors() {
            eprintln!("{}", d.render_human());
        }
        eprintln!(
            "hsflow: the rules have {}; `hsflow lint` shows them all",
            lint::count(loaded.error_count(), "error")
        );
    }
    loaded.ruleset
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Lint {
            dirs,
            format,
            files,
            stdin_path,
        } => lint::run(
            &dirs,
            format,
            lint::Only {
                files: &files,
                stdin_path: stdin_path.as_deref(),
            },
        ),
        Command::Schema { out, check } => schema::run(&out, check),
        Command::Simulate(args) => simulate::run(&args),
        Command::Serve(args) => {
            if let Err(e) = logging::init() {
                eprintln!("hsflow: {e}");
                return ExitCode::from(2);
            }
            serve::run(args)
        }
        Command::Check { dirs } => check::run(&dirs),
        Command::Export(args) => export::run(&args),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out } => docs::man(out.as_deref()),
        Command::Init { dir } => init::run(&dir),
        Command::Test { dirs, filter } => test::run(&dirs, filter.as_deref()),
        Command::Versions { server } => remote::versions(&server),
        Command::Diff { server, from, to } => remote::diff(&server, &from, &to),
        Command::Rollback { server, version } => remote::rollback(&server, &version),
        Command::Whatif(args) => remote::whatif(&args),
        Command::SendTest(args) => remote::send_test(&args),
        Command::Schedules { dirs } => schedules::run(&dirs),
    }
}
