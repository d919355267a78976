//! `hsflow simulate`: what would this webhook do? No side effects.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, SubsecRound, Utc};

use super::{load_or_report, render, RuleDirs};
use crate::engine::plan::{plan, Options};
use crate::sources::intake::intake_enriched;
use crate::sources::normalise::Request;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dirs: RuleDirs,
    /// The source the request arrives through (rules/sources/<NAME>.toml).
    #[arg(long)]
    pub source: String,
    /// A request header, K=V; repeatable.
    #[arg(long = "header", value_name = "K=V")]
    pub headers: Vec<String>,
    /// When the event arrives (RFC 3339); default now.
    #[arg(long)]
    pub at: Option<String>,
    /// Check the signature or secret, with the secret from its environment variable.
    #[arg(long)]
    pub verify: bool,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// For a source with [[enrich]] steps: the API's responses, as JSON (one key per step name, e.g. {"appointment": {...}}; with one step, the response itself). Simulate never calls the API.
    #[arg(long, value_name = "FILE")]
    pub enriched: Option<PathBuf>,
    /// The request body; - reads standard input.
    pub file: PathBuf,
}

#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

pub fn parse_headers(list: &[String]) -> Result<Vec<(String, String)>, String> {
    list.iter()
        .map(|h| match h.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!("--header {h:?} is not K=V")),
        })
        .collect()
}

pub fn parse_at(at: Option<&str>) -> Result<DateTime<Utc>, String> {
    match at {
        None => Ok(Utc::now().trunc_subsecs(0)),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| {
                format!("--at {s:?} is not an RFC 3339 time ({e}); write e.g. 2026-01-05T09:00:00Z")
            }),
    }
}

pub fn run(args: &Args) -> ExitCode {
    let Some(rs) = load_or_report(&args.dirs) else {
        return ExitCode::from(1);
    };
    let headers = match parse_headers(&args.headers) {
        Ok(h) => h,
        Err(e) => return usage(&e),
    };
    let at = match parse_at(args.at.as_deref()) {
        Ok(t) => t,
        Err(e) => return usage(&e),
    };
    let mut body = Vec::new();
    let read = if args.file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut body).map(|_| ())
    } else {
        std::fs::read(&args.file).map(|b| body = b)
    };
    if let Err(e) = read {
        eprintln!("hsflow: could not read {}: {e}", args.file.display());
        return ExitCode::from(2);
    }
    let req = Request {
        headers: &headers,
        body: &body,
    };
    let enriched = match &args.enriched {
        None => None,
        Some(path) => match crate::sources::enrich::read_answers(path) {
            Ok(v) => Some(v),
            Err(e) => return usage(&format!("--enriched {}: {e}", path.display())),
        },
    };
    let (event, fetched) = match intake_enriched(
        &rs,
        &args.source,
        &req,
        at,
        args.verify,
        &|k| std::env::var(k).ok(),
        enriched.as_ref(),
    ) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("refused: {e}");
            return ExitCode::from(1);
        }
    };
    let mut p = plan(&rs, &event, Options::default());
    // What the API would have been asked (the file stood in for its answer).
    for t in &fetched {
        p.notes.insert(
            0,
            format!(
                "enrich `{}`: {} {} (answered from the --enriched file)",
                t.name, t.method, t.url
            ),
        );
    }
    p.enrich = fetched;
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&p) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("hsflow: could not write JSON: {e}");
                return ExitCode::from(2);
            }
        },
        Format::Human => print!("{}", render::plan_human(&p)),
    }
    ExitCode::SUCCESS
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("hsflow: {msg}");
    ExitCode::from(2)
}
