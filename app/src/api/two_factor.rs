//! Two-factor sign-in: the second step of signing in, and enrolling or
//! removing an authenticator app in Settings.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorView {
    pub enabled: bool,
    pub recovery_codes_left: i64,
    /// The operator requires it of this person (they own a workspace).
    pub required: bool,
}

/// A new enrolment, for the person setting up their own app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentView {
    /// The secret in base32, grouped in fours for typing.
    pub secret: String,
    /// The `otpauth://` link (opens the app on a phone).
    pub uri: String,
    /// The link as a QR code, an SVG drawn by the server.
    pub qr_svg: String,
}

/// Finishes a sign-in the password started, with a code from the app or
/// a recovery code.
#[server(prefix = "/api", endpoint = "complete_sign_in")]
pub async fn complete_sign_in(code: String) -> Result<(), UiError> {
    use crate::session;
    let engine = session::engine()?;
    let challenge = session::challenge_token().ok_or_else(|| UiError::Field {
        field: "code".into(),
        message: "This sign-in expired; enter your password again.".into(),
    })?;
    let finished = switchboard::accounts::complete_sign_in(
        &engine.store,
        &engine.vault,
        &challenge,
        &code,
        &session::client_address(),
    )
    .await;
    let (token, _) = finished?;
    session::clear_challenge_cookie();
    session::set_session_cookie(&engine, &token);
    Ok(())
}

#[server(prefix = "/api", endpoint = "two_factor_status")]
pub async fn two_factor_status() -> Result<TwoFactorView, UiError> {
    use crate::session;
    let (engine, session) = session::session().await?;
    let status = switchboard::accounts::two_factor::two_factor_status(
        &engine.store,
        engine.config.two_factor,
        &session,
    )
    .await?;
    Ok(TwoFactorView {
        enabled: status.enabled,
        recovery_codes_left: status.recovery_codes_left,
        required: status.required,
    })
}

#[server(prefix = "/api", endpoint = "begin_two_factor")]
pub async fn begin_two_factor(password: String) -> Result<EnrolmentView, UiError> {
    use crate::session;
    let (engine, session) = session::session().await?;
    let enrolment =
        switchboard::accounts::two_factor::begin(&engine.store, &engine.vault, &session, &password)
            .await?;
    let secret = enrolment.secret.expose();
    Ok(EnrolmentView {
        secret: secret
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        uri: enrolment.uri.expose().clone(),
        qr_svg: qr_svg(enrolment.uri.expose()),
    })
}

#[cfg(feature = "ssr")]
fn qr_svg(text: &str) -> String {
    use qrcode::{render::svg, QrCode};
    match QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        // The link and the secret are shown too: the code is a convenience.
        Err(_) => String::new(),
    }
}

/// Confirms the app with its first code; returns the recovery codes,
/// shown this once.
#[server(prefix = "/api", endpoint = "confirm_two_factor")]
pub async fn confirm_two_factor(code: String) -> Result<Vec<String>, UiError> {
    use crate::session;
    let (engine, session) = session::session().await?;
    let codes =
        switchboard::accounts::two_factor::confirm(&engine.store, &engine.vault, &session, &code)
            .await?;
    Ok(codes.0)
}

#[server(prefix = "/api", endpoint = "disable_two_factor")]
pub async fn disable_two_factor(password: String) -> Result<(), UiError> {
    use crate::session;
    let (engine, session) = session::session().await?;
    switchboard::accounts::two_factor::disable(
        &engine.store,
        engine.config.two_factor,
        &session,
        &password,
    )
    .await?;
    Ok(())
}

#[server(prefix = "/api", endpoint = "renew_recovery_codes")]
pub async fn renew_recovery_codes(password: String) -> Result<Vec<String>, UiError> {
    use crate::session;
    let (engine, session) = session::session().await?;
    let codes =
        switchboard::accounts::two_factor::renew_recovery_codes(&engine.store, &session, &password)
            .await?;
    Ok(codes.0)
}
