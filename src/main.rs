use clap::Parser;

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
