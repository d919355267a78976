//! The `hsflow` binary: see `hsflow --help`.

fn main() -> std::process::ExitCode {
    hsflow::cli::run()
}
