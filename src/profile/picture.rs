//! Checking a profile picture by decoding it: the bytes decide what it is,
//! never the file name or the declared type.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use crate::config::PictureRules;

/// A picture that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

impl Picture {
    pub fn file_name(&self) -> &'static str {
        match self.mime {
            "image/png" => "profile.png",
            _ => "profile.jpg",
        }
    }
}

fn megabytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// Checks size, format (JPEG or PNG, from the bytes), dimensions, and
/// that the whole image decodes.
pub fn check(bytes: Vec<u8>, rules: &PictureRules) -> Result<Picture, String> {
    if bytes.is_empty() {
        return Err("The file is empty.".into());
    }
    if bytes.len() > rules.max_bytes {
        return Err(format!(
            "The picture is {}; the limit is {}.",
            megabytes(bytes.len()),
            megabytes(rules.max_bytes)
        ));
    }
    let (format, mime) = match image::guess_format(&bytes) {
        Ok(ImageFormat::Jpeg) => (ImageFormat::Jpeg, "image/jpeg"),
        Ok(ImageFormat::Png) => (ImageFormat::Png, "image/png"),
        Ok(other) => {
            return Err(format!(
                "Only JPEG and PNG pictures are accepted; this file is {}.",
                other
                    .extensions_str()
                    .first()
                    .copied()
                    .unwrap_or("another format")
                    .to_uppercase()
            ))
        }
        Err(_) => return Err("This file is not a picture: only JPEG and PNG are accepted.".into()),
    };
    let reader = |bytes: &[u8]| {
        let mut reader = ImageReader::with_format(Cursor::new(bytes.to_vec()), format);
        // A small file can claim huge dimensions: bound what decoding may take.
        let mut limits = Limits::default();
        limits.max_image_width = Some(16_384);
        limits.max_image_height = Some(16_384);
        limits.max_alloc = Some(64 * 1024 * 1024);
        reader.limits(limits);
        reader
    };
    let damaged = |e: image::ImageError| {
        format!(
            "The picture is damaged or not a real {}: {e}.",
            &mime[6..].to_uppercase()
        )
    };
    let (width, height) = reader(&bytes).into_dimensions().map_err(damaged)?;
    let (min, max) = (rules.min_px, rules.max_px);
    if width < min || height < min || width > max || height > max {
        return Err(format!(
            "The picture is {width}×{height} pixels; it must be between {min}×{min} and {max}×{max}."
        ));
    }
    reader(&bytes).decode().map_err(damaged)?;
    Ok(Picture {
        mime,
        width,
        height,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let image =
            image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn jpeg_and_png_within_bounds_pass() {
        let rules = PictureRules::default();
        let jpeg = check(encoded(200, 300, ImageFormat::Jpeg), &rules).unwrap();
        assert_eq!(
            (jpeg.mime, jpeg.width, jpeg.height),
            ("image/jpeg", 200, 300)
        );
        let png = check(encoded(640, 640, ImageFormat::Png), &rules).unwrap();
        assert_eq!((png.mime, png.file_name()), ("image/png", "profile.png"));
    }

    #[test]
    fn wrong_sizes_formats_and_damage_are_refused() {
        let rules = PictureRules::default();
        let problem = |bytes| check(bytes, &rules).unwrap_err();
        assert!(problem(encoded(100, 100, ImageFormat::Png)).contains("100×100"));
        assert!(
            problem(encoded(641, 400, ImageFormat::Jpeg)).contains("between 192×192 and 640×640")
        );
        assert!(problem(b"GIF89a\x01\x00\x01\x00".to_vec()).contains("Only JPEG and PNG"));
        assert!(problem(b"%PDF-1.7 not a picture".to_vec()).contains("not a picture"));
        let mut truncated = encoded(300, 300, ImageFormat::Png);
        truncated.truncate(truncated.len() / 2);
        assert!(problem(truncated).contains("damaged"));
        assert!(problem(Vec::new()).contains("empty"));
        let small = PictureRules {
            max_bytes: 100,
            ..rules
        };
        assert!(check(encoded(300, 300, ImageFormat::Png), &small)
            .unwrap_err()
            .contains("limit"));
    }
}
