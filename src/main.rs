//! The `hsflow` binary: see `hsflow --help`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hsflow::cli::run()
}
