//! The FB JS SDK, driven from Rust through web-sys: inject the script, set
//! `fbAsyncInit`, call `FB.init` and `FB.login`. The SDK is Meta's in live
//! mode and the sandbox's stand-in in demo mode; the URL comes from the
//! server.

use js_sys::{Function, Reflect, JSON};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::HtmlScriptElement;

use crate::api::onboarding::SignupConfig;

const SCRIPT_ID: &str = "facebook-jssdk";

fn fb() -> Option<JsValue> {
    let window = web_sys::window()?;
    Reflect::get(&window, &"FB".into())
        .ok()
        .filter(|fb| fb.is_object())
}

fn call_init(init_options: &str) -> Result<(), JsValue> {
    let fb = fb().ok_or_else(|| JsValue::from_str("FB is missing"))?;
    let init: Function = Reflect::get(&fb, &"init".into())?.dyn_into()?;
    init.call1(&fb, &JSON::parse(init_options)?)?;
    Ok(())
}

/// Loads the SDK (once per page) and runs `ready` after `FB.init`, or
/// `failed` if the script cannot load (blocked, offline).
pub fn load_sdk(
    settings: &SignupConfig,
    ready: impl FnOnce() + 'static,
    failed: impl FnOnce() + 'static,
) -> Result<(), String> {
    let init_options = serde_json::json!({
        "appId": settings.app_id,
        "autoLogAppEvents": true,
        "xfbml": true,
        "version": settings.graph_version,
    })
    .to_string();
    if fb().is_some() {
        call_init(&init_options).map_err(crate::js::error_text)?;
        ready();
        return Ok(());
    }
    let window = web_sys::window().ok_or("no window")?;
    // The SDK calls this once it has loaded.
    let on_load = Closure::once_into_js(move || match call_init(&init_options) {
        Ok(()) => ready(),
        Err(error) => web_sys::console::error_1(&error),
    });
    Reflect::set(&window, &"fbAsyncInit".into(), &on_load).map_err(crate::js::error_text)?;
    let document = window.document().ok_or("no document")?;
    if document.get_element_by_id(SCRIPT_ID).is_some() {
        return Ok(());
    }
    let script: HtmlScriptElement = document
        .create_element("script")
        .map_err(crate::js::error_text)?
        .dyn_into()
        .map_err(|_| "not a script element".to_string())?;
    script.set_id(SCRIPT_ID);
    script.set_src(&settings.sdk_url);
    script.set_async(true);
    script.set_defer(true);
    script.set_cross_origin(Some("anonymous"));
    script.set_onerror(Some(Closure::once_into_js(failed).unchecked_ref()));
    document
        .body()
        .ok_or("no body")?
        .append_child(&script)
        .map_err(crate::js::error_text)?;
    Ok(())
}

/// Opens Embedded Signup. `on_code` gets the code, or `None` when the
/// person closed the window without one. Must run inside the click
/// handler, or the browser blocks the popup.
pub fn login(
    config_id: &str,
    business_app: bool,
    on_code: impl FnOnce(Option<String>) + 'static,
) -> Result<(), String> {
    let fb = fb().ok_or("Meta's SDK has not loaded yet; try again in a moment")?;
    let login: Function = Reflect::get(&fb, &"login".into())
        .map_err(crate::js::error_text)?
        .dyn_into()
        .map_err(|_| "FB.login is not a function".to_string())?;
    let options = serde_json::json!({
        "config_id": config_id,
        "response_type": "code",
        "override_default_response_type": true,
        // Embedded Signup v4: no `version` key; session info messages on.
        // `whatsapp_business_app_onboarding`: the business keeps using the
        // WhatsApp Business app on the number (coexistence).
        "extras": {
            "setup": {},
            "featureType": if business_app { "whatsapp_business_app_onboarding" } else { "" },
            "sessionInfoVersion": "3",
        },
    })
    .to_string();
    let callback = Closure::once_into_js(move |response: JsValue| {
        let code = Reflect::get(&response, &"authResponse".into())
            .ok()
            .filter(JsValue::is_object)
            .and_then(|auth| Reflect::get(&auth, &"code".into()).ok())
            .and_then(|code| code.as_string())
            .filter(|code| !code.is_empty());
        on_code(code);
    });
    let options = JSON::parse(&options).map_err(crate::js::error_text)?;
    login
        .call2(&fb, &callback, &options)
        .map_err(crate::js::error_text)?;
    Ok(())
}
