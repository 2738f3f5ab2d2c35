//! Who is signed in, shared by the layout and the pages, refreshed after
//! anything that changes it (sign-in, sign-out, switching workspace).

use leptos::prelude::*;

use crate::api::account::{welcome, Me, WelcomeView};

#[derive(Clone, Copy)]
pub struct SessionState {
    version: RwSignal<u32>,
    resource: Resource<Option<WelcomeView>>,
}

impl SessionState {
    pub fn provide() -> Self {
        let version = RwSignal::new(0);
        // Blocking: the page waits for it on the server, so a redirect to sign-in
        // is a real 302 and the header renders with the person in it.
        let resource =
            Resource::new_blocking(move || version.get(), |_| async { welcome().await.ok() });
        let state = Self { version, resource };
        provide_context(state);
        state
    }

    pub fn refresh(&self) {
        self.version.update(|v| *v += 1);
    }

    /// Inside a `Suspense`: the welcome data once loaded.
    pub fn welcome(&self) -> Option<WelcomeView> {
        self.resource.get().flatten()
    }

    /// The welcome data, awaited: for a `Suspend`, which builds what
    /// depends on it once, when it has loaded.
    pub async fn loaded(self) -> Option<WelcomeView> {
        self.resource.await
    }

    pub fn me(&self) -> Option<Me> {
        self.welcome().and_then(|w| w.me)
    }
}
