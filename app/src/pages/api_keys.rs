//! Integration API keys: make one (shown once), see when each was last
//! used, revoke.

use leptos::prelude::*;

use super::{
    forms::{last_error, FieldError, FormError},
    time::format_time,
};
use crate::api::api_keys::{list_api_keys, CreateApiKey, RevokeApiKey};

#[component]
pub fn ApiKeys() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let create_error = last_error(create.value());
    let revoke_error = last_error(revoke.value());
    view! {
        <section class="page">
            <h1>"API keys"</h1>
            <p class="lead">"Your own code sends and reads messages through /api/v1 with Authorization: Bearer <key>. "
                <a href="/settings/api">"The API reference"</a>" lists every endpoint."</p>
            <ActionForm action=create attr:class="form inline">
                <label>"Key name" <input name="name" required maxlength="100" placeholder="CRM"/></label>
                <label class="choice"><input type="checkbox" name="send" value="on" checked/>" send"</label>
                <label class="choice"><input type="checkbox" name="read" value="on" checked/>" read"</label>
                <label class="choice" title="Export and erase contacts"><input type="checkbox" name="privacy" value="on"/>" privacy"</label>
                <button type="submit" class="button">"Make a key"</button>
            </ActionForm>
            <FieldError error=create_error field="name"/>
            <FieldError error=create_error field="scopes"/>
            <FormError error=create_error/>
            <FormError error=revoke_error/>
            {move || create.value().get().and_then(Result::ok).map(|made| view! {
                <div class="success" role="status">
                    <p>{format!("The key “{}”, shown this once: keep it where your code can read it.", made.name)}</p>
                    <input class="secret" readonly aria-label="API key" value=made.key/>
                </div>
            })}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || keys.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="muted">"No key yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="table api-keys">
                            <thead><tr><th>"Name"</th><th>"Key"</th><th>"Scopes"</th><th>"Made (UTC)"</th><th>"Last used"</th><th></th></tr></thead>
                            <tbody>{list.into_iter().map(|k| {
                                let id = k.id.clone();
                                view! {
                                    <tr data-key=k.id data-revoked=k.revoked_at.is_some().to_string()>
                                        <td>{k.name}</td>
                                        <td><code>{format!("{}…", k.prefix)}</code></td>
                                        <td>{k.scopes}</td>
                                        <td>{format_time(k.created_at)}</td>
                                        <td>{k.last_used_at.map(format_time).unwrap_or_else(|| "never".into())}</td>
                                        <td>{match k.revoked_at {
                                            Some(at) => view! { <span class="muted">{format!("revoked {}", format_time(at))}</span> }.into_any(),
                                            None => view! {
                                                <ActionForm action=revoke attr:class="inline">
                                                    <input type="hidden" name="id" value=id/>
                                                    <button type="submit" class="button small danger">"Revoke"</button>
                                                </ActionForm>
                                            }.into_any(),
                                        }}</td>
                                    </tr>
                                }
                            }).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
