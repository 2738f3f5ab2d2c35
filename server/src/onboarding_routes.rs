//! The OAuth redirect path of Embedded Signup, as two plain routes the
//! browser navigates to (`switchboard::onboarding::redirect` holds the
//! rules):
//!
//! - `GET /onboarding/meta/start?business_app=0|1`: a signed-in admin is
//!   sent (303) to Meta's dialog; anyone else to the sign-in page (no
//!   session) or refused (403).
//! - `GET /onboarding/meta/callback?code&state` (or Meta's `error`...):
//!   the run is started and the browser sent to `/onboarding?run=<id>`,
//!   or to `/onboarding?signup_error=<reason>` when there is none.
//!
//! The query holds the code and the state: the access log shows paths
//! only, and nothing here logs either.

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use serde::Deserialize;
use switchboard::{
    accounts::{Caller, Role},
    onboarding::redirect::{self, Callback},
    Engine,
};

pub fn routes(engine: Engine) -> Router {
    Router::new()
        .route("/onboarding/meta/start", get(start))
        .route(redirect::CALLBACK_PATH, get(callback))
        .with_state(engine)
}

#[derive(Deserialize)]
struct StartQuery {
    business_app: Option<String>,
}

/// A 303 that no cache keeps (it carries a one-time state).
fn see_other(location: &str) -> Response {
    let mut response = Redirect::to(location).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The admin behind the request's session cookie, or where to send
/// anyone else.
async fn admin(engine: &Engine, headers: &HeaderMap) -> Result<Caller, Response> {
    match app::session::caller_of_request(engine, headers, Role::Admin).await {
        Ok(caller) => Ok(caller),
        Err(StatusCode::UNAUTHORIZED) => Err(see_other("/sign-in")),
        Err(status) => Err((
            status,
            "Only owners and admins of the workspace connect WhatsApp numbers.",
        )
            .into_response()),
    }
}

async fn start(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Query(query): Query<StartQuery>,
) -> Response {
    let business_app = match query.business_app.as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(_) => {
            return (StatusCode::BAD_REQUEST, "business_app is 0 or 1").into_response();
        }
    };
    let caller = match admin(&engine, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match redirect::start(&engine, &caller, business_app).await {
        Ok(dialog) => see_other(dialog.as_str()),
        Err(error) => {
            tracing::error!(%error, "cannot start the OAuth redirect");
            see_other("/onboarding?signup_error=failed")
        }
    }
}

async fn callback(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Query(query): Query<Callback>,
) -> Response {
    let caller = match admin(&engine, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match redirect::finish(&engine, &caller, &query).await {
        Ok(run) => see_other(&format!("/onboarding?run={run}")),
        Err(error) => {
            let Some(reason) = error.signup_error() else {
                return (
                    StatusCode::FORBIDDEN,
                    "Only owners and admins of the workspace connect WhatsApp numbers.",
                )
                    .into_response();
            };
            if reason == "failed" {
                tracing::error!(%error, "the OAuth callback could not finish");
            }
            see_other(&format!("/onboarding?signup_error={reason}"))
        }
    }
}
