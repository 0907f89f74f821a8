//! QR codes as PNG images, small and crisp, for `<img src="data:image/png;base64,…">`.
//!
//! WeChat's long-press recognition only reacts to `<img>` elements, so the payer page never
//! draws a QR on a canvas or as a CSS background. The PNG is 1 bit per pixel with whole-pixel
//! modules and a 4-module quiet zone, deflated with `miniz_oxide`: a few hundred bytes, and
//! identical in the worker (server-rendered HTML) and in the app.

use base64::Engine as _;
use qrcode::{Color, EcLevel, QrCode};

/// Quiet zone around the code, in modules (the QR standard asks for 4).
pub const QUIET_ZONE: u32 = 4;

/// Why a QR could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The content does not fit in the largest QR version.
    #[error("二维码内容过长")]
    TooLong,
}

/// A QR as a square matrix of dark/light modules, without the quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    width: u32,
    dark: Vec<bool>,
}

impl Matrix {
    /// Encodes `content` with error correction level M (what WeChat's own codes use).
    pub fn encode(content: &str) -> Result<Matrix, QrError> {
        let code = QrCode::with_error_correction_level(content.as_bytes(), EcLevel::M)
            .map_err(|_| QrError::TooLong)?;
        let width = code.width() as u32;
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        Ok(Matrix { width, dark })
    }

    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Whether the module at (x, y) is dark; outside the matrix is light.
    pub fn is_dark(&self, x: i64, y: i64) -> bool {
        let w = i64::from(self.width);
        (0..w).contains(&x) && (0..w).contains(&y) && self.dark[(y * w + x) as usize]
    }

    /// Renders a 1-bit grayscale PNG: `module_px` pixels per module, with the quiet zone.
    pub fn to_png(&self, module_px: u32) -> Vec<u8> {
        let module_px = module_px.max(1);
        let modules = self.width + 2 * QUIET_ZONE;
        let side = modules * module_px;
        let row_bytes = side.div_ceil(8) as usize;
        let mut raw = Vec::with_capacity((row_bytes + 1) * side as usize);
        for py in 0..side {
            raw.push(0); // filter type: none
            let my = i64::from(py / module_px) - i64::from(QUIET_ZONE);
            let mut byte = 0u8;
            for px in 0..side {
                let mx = i64::from(px / module_px) - i64::from(QUIET_ZONE);
                // In 1-bit grayscale, 1 is white.
                let bit = u8::from(!self.is_dark(mx, my));
                byte |= bit << (7 - (px % 8));
                if px % 8 == 7 {
                    raw.push(byte);
                    byte = 0;
                }
            }
            if !side.is_multiple_of(8) {
                raw.push(byte);
            }
        }
        encode_png(side, side, 1, 0, &raw)
    }
}

/// Encodes `content` as a PNG about `target_px` pixels wide (never less), with whole-pixel modules.
pub fn png(content: &str, target_px: u32) -> Result<Vec<u8>, QrError> {
    let matrix = Matrix::encode(content)?;
    let modules = matrix.width() + 2 * QUIET_ZONE;
    Ok(matrix.to_png(target_px.div_ceil(modules)))
}

/// `data:image/png;base64,…` of [`png`].
pub fn png_data_url(content: &str, target_px: u32) -> Result<String, QrError> {
    let png = png(content, target_px)?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

/// Writes a PNG with one IDAT chunk from already filtered scanlines.
pub fn encode_png(
    width: u32,
    height: u32,
    bit_depth: u8,
    color_type: u8,
    filtered: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(filtered.len() / 4 + 64);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[bit_depth, color_type, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &miniz_oxide::deflate::compress_to_vec_zlib(filtered, 9),
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = Crc32::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finish().to_be_bytes());
}

/// CRC-32 (IEEE), bitwise: PNG chunks are small, a table is not worth its bytes in the wasm.
struct Crc32(u32);

impl Crc32 {
    fn new() -> Self {
        Crc32(0xffff_ffff)
    }

    fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u32::from(b);
            for _ in 0..8 {
                let mask = (self.0 & 1).wrapping_neg();
                self.0 = (self.0 >> 1) ^ (0xedb8_8320 & mask);
            }
        }
    }

    fn finish(&self) -> u32 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_png_specification_example() {
        let mut crc = Crc32::new();
        crc.update(b"IEND");
        assert_eq!(crc.finish(), 0xae42_6082);
    }

    #[test]
    fn png_has_quiet_zone_and_whole_pixel_modules() {
        let content = "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5";
        let matrix = Matrix::encode(content).unwrap();
        let png = png(content, 480).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let modules = matrix.width() + 2 * QUIET_ZONE;
        assert_eq!(width % modules, 0, "whole pixels per module");
        assert!(width >= 480);
        // Small enough to inline in HTML.
        assert!(png.len() < 4096, "{} bytes", png.len());
    }

    /// Reads back a PNG written by [`encode_png`] (1-bit grayscale, filter 0) into pixels.
    fn decode_own_png(png: &[u8]) -> (usize, Vec<bool>) {
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap()) as usize;
        let idat_len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&png[41..41 + idat_len]).unwrap();
        let row_bytes = width.div_ceil(8);
        let mut white = Vec::with_capacity(width * width);
        for y in 0..width {
            let row = &raw[y * (row_bytes + 1)..(y + 1) * (row_bytes + 1)];
            assert_eq!(row[0], 0);
            for x in 0..width {
                white.push(row[1 + x / 8] & (0x80 >> (x % 8)) != 0);
            }
        }
        (width, white)
    }

    #[test]
    fn the_png_decodes_back_to_the_content() {
        let content = "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5";
        let (width, white) = decode_own_png(&png(content, 300).unwrap());
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, width, |x, y| {
            if white[y * width + x] {
                255
            } else {
                0
            }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, decoded) = grids[0].decode().unwrap();
        assert_eq!(decoded, content);
    }

    #[test]
    fn too_long_content_is_an_error() {
        assert_eq!(Matrix::encode(&"x".repeat(5000)), Err(QrError::TooLong));
    }
}
