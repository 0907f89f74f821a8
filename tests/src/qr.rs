//! QR fixtures and decoding of screenshots.

use std::path::Path;

use anyhow::{Context, Result};
use image::{GrayImage, Luma};

/// Decodes every QR code in a PNG (e.g. a screenshot).
pub fn decode_png(png: &[u8]) -> Result<Vec<String>> {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .context("decoding PNG")?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    Ok(prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, content)| content))
        .collect())
}

/// Writes a picture like a phone screenshot of WeChat's 收款码 page: a green header, a white
/// card, and the QR of `content` in the middle, as a payee would upload it.
pub fn write_receive_code_screenshot(content: &str, path: &Path) -> Result<()> {
    let matrix = shoukuan_core::qr::Matrix::encode(content)?;
    let (w, h) = (750u32, 1200u32);
    let mut img = GrayImage::from_pixel(w, h, Luma([236]));
    for y in 0..160 {
        for x in 0..w {
            img.put_pixel(x, y, Luma([120]));
        }
    }
    let card = (60u32, 220u32, 630u32, 800u32);
    for y in card.1..card.1 + card.3 {
        for x in card.0..card.0 + card.2 {
            img.put_pixel(x, y, Luma([255]));
        }
    }
    let module = 10u32;
    let size = matrix.width() * module;
    let (ox, oy) = ((w - size) / 2, card.1 + 150);
    for my in 0..matrix.width() {
        for mx in 0..matrix.width() {
            if matrix.is_dark(i64::from(mx), i64::from(my)) {
                for dy in 0..module {
                    for dx in 0..module {
                        img.put_pixel(ox + mx * module + dx, oy + my * module + dy, Luma([20]));
                    }
                }
            }
        }
    }
    img.save(path).context("writing the fixture PNG")?;
    Ok(())
}

/// A picture with no QR code at all.
pub fn write_picture_without_qr(path: &Path) -> Result<()> {
    let img = GrayImage::from_fn(400, 300, |x, y| Luma([((x * 7 + y * 3) % 256) as u8]));
    img.save(path).context("writing the fixture PNG")?;
    Ok(())
}
