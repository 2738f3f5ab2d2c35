//! The WASM entry point: loads the parts of the client the page needs, then
//! hydrates the server-rendered page.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        // Hydrating without the page's part would build another tree than
        // the server's; unhydrated, the page still reads and links as HTML.
        match app::split::load_marked_parts().await {
            Ok(()) => leptos::mount::hydrate_body(app::App),
            Err(_) => leptos::logging::error!(
                "a part of the client failed to load; the page stays as the server rendered it"
            ),
        }
    });
}
