//! The sandbox as a standalone program: `sandbox [--addr 127.0.0.1:4000]
//! [--callback URL] [--seed N] [--app-secret S] [--retry-for-secs N]`. It binds loopback only by default.

use std::net::SocketAddr;

use sandbox::{Sandbox, SandboxConfig};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .init();
    let mut config = SandboxConfig::default();
    let mut addr: SocketAddr = "127.0.0.1:4000".parse().expect("constant address");
    let mut callback = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("sandbox: {name} needs a value");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--addr" => {
                addr = value("--addr").parse().unwrap_or_else(|_| {
                    eprintln!("sandbox: --addr must be like 127.0.0.1:4000");
                    std::process::exit(2)
                })
            }
            "--callback" => callback = Some(value("--callback")),
            "--seed" => {
                config.seed = value("--seed").parse().unwrap_or_else(|_| {
                    eprintln!("sandbox: --seed must be a number");
                    std::process::exit(2)
                })
            }
            "--app-secret" => config.app_secret = value("--app-secret"),
            "--retry-for-secs" => {
                let secs: u64 = value("--retry-for-secs").parse().unwrap_or_else(|_| {
                    eprintln!("sandbox: --retry-for-secs must be a number of seconds");
                    std::process::exit(2)
                });
                config.retry_for(std::time::Duration::from_secs(secs));
            }
            "--help" | "-h" => {
                println!("usage: sandbox [--addr 127.0.0.1:4000] [--callback URL] [--seed N] [--app-secret S] [--retry-for-secs N]");
                return;
            }
            other => {
                eprintln!("sandbox: unknown argument {other} (try --help)");
                std::process::exit(2)
            }
        }
    }
    let sandbox = match Sandbox::start(config.clone(), addr).await {
        Ok(sandbox) => sandbox,
        Err(error) => {
            eprintln!("sandbox: cannot listen on {addr}: {error}");
            std::process::exit(1)
        }
    };
    println!("sandbox listening on {}", sandbox.base_url());
    if let Some(url) = callback {
        // Like Meta's dashboard: the callback is saved only after it passes
        // the GET handshake with the verify token.
        let saved = reqwest::Client::new()
            .put(format!("{}/_sandbox/webhook", sandbox.base_url()))
            .json(&serde_json::json!({ "url": url }))
            .send()
            .await;
        match saved {
            Ok(response) if response.status().is_success() => println!("webhooks go to {url}"),
            Ok(response) => eprintln!(
                "sandbox: callback not saved: {}",
                response.text().await.unwrap_or_default()
            ),
            Err(error) => eprintln!("sandbox: callback not saved: {error}"),
        }
    }
    println!("app id {}, app secret {}", config.app_id, config.app_secret);
    if let Some(demo) = sandbox.demo() {
        println!(
            "demo business: {}",
            serde_json::to_string(demo).unwrap_or_default()
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    sandbox.stop().await;
}
