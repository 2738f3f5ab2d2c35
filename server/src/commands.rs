//! Operator commands: `server create-admin` for scripted installs and
//! `server rotate-keys` to move every stored token to the active key.

use std::{io::BufRead, process::ExitCode};

use switchboard::{
    accounts::{self, SignUp},
    config::Settings,
    store::Store,
};

const USAGE: &str =
    "usage: server [create-admin --email EMAIL --name NAME --workspace NAME | rotate-keys]
  create-admin reads the password from SWITCHBOARD_ADMIN_PASSWORD, or from the first line of stdin
  rotate-keys  re-encrypts every stored token under the first key of TOKEN_ENCRYPTION_KEYS
               (safe while the server runs; keep the old keys listed until it has finished)";

pub async fn run(config: Settings, args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        Some("create-admin") => create_admin(config, &args[1..]).await,
        Some("rotate-keys") => rotate_keys(config).await,
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

async fn create_admin(config: Settings, args: &[String]) -> ExitCode {
    let (Some(email), Some(name), Some(workspace)) = (
        flag(args, "--email"),
        flag(args, "--name"),
        flag(args, "--workspace"),
    ) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    // Never from argv: other users of the machine can read it there.
    let password = match std::env::var("SWITCHBOARD_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).is_err() {
                eprintln!("create-admin: cannot read the password from stdin");
                return ExitCode::FAILURE;
            }
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let store = match Store::open(&config.database_url).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("create-admin: {error}");
            return ExitCode::FAILURE;
        }
    };
    let sign_up = SignUp {
        email,
        name,
        password: &password,
        workspace_name: workspace,
    };
    let result = accounts::create_admin(&store, &sign_up).await;
    store.close().await;
    match result {
        Ok(user) => {
            println!(
                "created the owner {} with the workspace \"{workspace}\"",
                user.email
            );
            ExitCode::SUCCESS
        }
        Err(switchboard::Error::Invalid { field, message }) => {
            eprintln!("create-admin: {field}: {message}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("create-admin: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn rotate_keys(config: Settings) -> ExitCode {
    let ring = match switchboard::vault::key_ring_for(&config) {
        Ok(ring) => ring,
        Err(error) => {
            eprintln!("rotate-keys: {error}");
            return ExitCode::from(2);
        }
    };
    let store = match Store::open(&config.database_url).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("rotate-keys: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = switchboard::tokens::rotate_keys(&store, &ring).await;
    store.close().await;
    match result {
        Ok(report) => {
            println!(
                "re-encrypted {} token(s) under key `{}`; {} already were",
                report.resealed,
                ring.active_key_id(),
                report.already_current
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("rotate-keys: {error}");
            ExitCode::FAILURE
        }
    }
}
