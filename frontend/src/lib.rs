//! The WASM entry point: hydrates the server-rendered page.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // A page split off the first load hydrates once its part is here.
    wasm_bindgen_futures::spawn_local(async {
        app::split::load_parts_of_this_page().await;
        leptos::mount::hydrate_body(app::App);
    });
}
