//! Ids shaped like Meta's: numeric strings of 15-16 digits, `wamid.` +
//! base64, `upload:` sessions, opaque handles and tokens.

use base64::{engine::general_purpose::STANDARD, Engine};

pub fn numeric(rng: &mut fastrand::Rng) -> String {
    format!("{}", rng.u64(100_000_000_000_000..10_000_000_000_000_000))
}

pub fn wamid(rng: &mut fastrand::Rng) -> String {
    let bytes: Vec<u8> = (0..30).map(|_| rng.u8(..)).collect();
    format!("wamid.{}", STANDARD.encode(bytes))
}

pub fn token(rng: &mut fastrand::Rng) -> String {
    let body: String = (0..96).map(|_| rng.alphanumeric()).collect();
    format!("EAAS{body}")
}

pub fn code(rng: &mut fastrand::Rng) -> String {
    let body: String = (0..64).map(|_| rng.alphanumeric()).collect();
    format!("AQB{body}")
}

pub fn upload_session(rng: &mut fastrand::Rng) -> String {
    let bytes: Vec<u8> = (0..24).map(|_| rng.u8(..)).collect();
    format!(
        "upload:{}",
        STANDARD.encode(bytes).replace(['+', '/', '='], "")
    )
}

pub fn handle(rng: &mut fastrand::Rng) -> String {
    let bytes: Vec<u8> = (0..36).map(|_| rng.u8(..)).collect();
    format!("4:{}", STANDARD.encode(bytes))
}

pub fn opaque(rng: &mut fastrand::Rng, len: usize) -> String {
    (0..len).map(|_| rng.alphanumeric()).collect()
}
