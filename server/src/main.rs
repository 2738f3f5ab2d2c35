use std::process::ExitCode;

use server::{commands, shutdown, telemetry, Application};
use switchboard::config::Settings;

/// mimalloc instead of glibc's malloc (see `Cargo.toml`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Settings::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("switchboard: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_tracing(config.log_format);

    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        return commands::run(config, &args).await;
    }

    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "start-up failed");
            eprintln!("switchboard: start-up failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until(shutdown::signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server stopped with an error");
            ExitCode::FAILURE
        }
    }
}
