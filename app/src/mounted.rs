//! Whether the page is running in the browser yet.

use leptos::prelude::*;

/// False while the server renders and while the page hydrates, true once
/// the browser has taken over. What is drawn only `when` this is true is
/// never drawn by the server, so data that changes between the server's
/// read and the browser's (a list a new message just reached, a reading
/// of the session) cannot make hydration fail, and browser-only reads
/// (`LocalResource`) are never awaited while a page response is written.
pub fn use_mounted() -> Signal<bool> {
    let mounted = RwSignal::new(false);
    Effect::new(move |_| mounted.set(true));
    mounted.into()
}
