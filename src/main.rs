use clap::Parser;

// The service allocates and frees many small buffers per request (HTTP, JSON, SQL arguments) on
// two threads; mimalloc's per-thread free lists cost less than glibc's arenas here (measured with scripts/bench.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    ehealth_es::init_tracing();
    let cli = ehealth_es::cli::Cli::parse();
    match ehealth_es::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
