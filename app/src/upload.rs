//! The profile picture in the browser: check the chosen file (type, size,
//! pixels) and preview it, then send it with upload progress. WASM only.

use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{File, FormData, HtmlImageElement, ProgressEvent, Url, XmlHttpRequest};

use crate::{api::profile::ProfileView, errors::UiError};

/// A chosen picture that passed the browser's checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preview {
    /// A `blob:` URL for the `<img>`.
    pub url: String,
    pub width: u32,
    pub height: u32,
}

/// Checks type and size at once, then loads the image to read its pixels.
/// The server checks everything again by decoding the bytes.
pub fn inspect(
    file: &File,
    min_px: u32,
    max_px: u32,
    max_bytes: usize,
    done: impl FnOnce(Result<Preview, String>) + 'static,
) {
    if !matches!(file.type_().as_str(), "image/jpeg" | "image/png") {
        return done(Err("Choose a JPEG or PNG picture.".into()));
    }
    if file.size() as usize > max_bytes {
        return done(Err(format!(
            "The picture is larger than {:.1} MB.",
            max_bytes as f64 / (1024.0 * 1024.0)
        )));
    }
    let url = match Url::create_object_url_with_blob(file) {
        Ok(url) => url,
        Err(error) => return done(Err(crate::js::error_text(error))),
    };
    let image = match HtmlImageElement::new() {
        Ok(image) => image,
        Err(error) => return done(Err(crate::js::error_text(error))),
    };
    let done = std::rc::Rc::new(std::cell::RefCell::new(Some(done)));
    let (on_load_done, on_error_done) = (done.clone(), done);
    let (loaded, loaded_url) = (image.clone(), url.clone());
    let on_load = Closure::once_into_js(move || {
        let (width, height) = (loaded.natural_width(), loaded.natural_height());
        let result = if width < min_px || height < min_px || width > max_px || height > max_px {
            Err(format!(
                "The picture is {width}×{height} pixels; it must be between {min_px}×{min_px} and {max_px}×{max_px}."
            ))
        } else {
            Ok(Preview {
                url: loaded_url,
                width,
                height,
            })
        };
        if let Some(done) = on_load_done.borrow_mut().take() {
            done(result);
        }
    });
    let on_error = Closure::once_into_js(move || {
        if let Some(done) = on_error_done.borrow_mut().take() {
            done(Err(
                "This file is not a picture the browser can read.".into()
            ));
        }
    });
    image.set_onload(Some(on_load.unchecked_ref()));
    image.set_onerror(Some(on_error.unchecked_ref()));
    image.set_src(&url);
}

/// Sends the picture to the server function as multipart, reporting the
/// percentage sent; `done` gets the new profile or the error to show.
pub fn send(
    phone_number_id: &str,
    file: &File,
    progress: impl Fn(u32) + 'static,
    done: impl FnOnce(Result<ProfileView, String>) + 'static,
) -> Result<(), String> {
    let form = FormData::new().map_err(crate::js::error_text)?;
    form.append_with_str("phone_number_id", phone_number_id)
        .map_err(crate::js::error_text)?;
    form.append_with_blob("picture", file)
        .map_err(crate::js::error_text)?;
    let request = XmlHttpRequest::new().map_err(crate::js::error_text)?;
    request
        .open_with_async("POST", "/api/upload_profile_picture", true)
        .map_err(crate::js::error_text)?;
    request
        .set_request_header("Accept", "application/json")
        .map_err(crate::js::error_text)?;
    let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
        if event.length_computable() && event.total() > 0.0 {
            progress((event.loaded() / event.total() * 100.0).round() as u32);
        }
    });
    request
        .upload()
        .map_err(crate::js::error_text)?
        .set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    // Lives as long as the page: one small closure per upload.
    on_progress.forget();

    let done = std::rc::Rc::new(std::cell::RefCell::new(Some(done)));
    let (load_done, error_done) = (done.clone(), done);
    let answered = request.clone();
    let on_load = Closure::once_into_js(move || {
        let status = answered.status().unwrap_or(0);
        let body = answered.response_text().ok().flatten().unwrap_or_default();
        let result = if status == 200 {
            serde_json::from_str::<ProfileView>(&body)
                .map_err(|e| format!("Unexpected answer: {e}"))
        } else {
            Err(serde_json::from_str::<UiError>(&body)
                .map(|e| e.to_string())
                .unwrap_or_else(|_| format!("The upload failed (HTTP {status}).")))
        };
        if let Some(done) = load_done.borrow_mut().take() {
            done(result);
        }
    });
    let on_error = Closure::once_into_js(move || {
        if let Some(done) = error_done.borrow_mut().take() {
            done(Err(
                "The upload was interrupted; check the connection and try again.".into(),
            ));
        }
    });
    request.set_onload(Some(on_load.unchecked_ref()));
    request.set_onerror(Some(on_error.unchecked_ref()));
    request
        .send_with_opt_form_data(Some(&form))
        .map_err(crate::js::error_text)?;
    Ok(())
}
