//! The gzip container (RFC 1952) of `tar_type=GZIP` bills, over `miniz_oxide`'s raw deflate:
//! one member, header flags honoured (FEXTRA, FNAME, FCOMMENT, FHCRC), CRC-32 and size checked.

use super::BillError;

/// The largest uncompressed bill accepted (a day of a small merchant is kilobytes).
pub const MAX_UNCOMPRESSED: usize = 64 * 1024 * 1024;

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Compresses `bytes` as one gzip member (no name, no mtime).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    out.extend(miniz_oxide::deflate::compress_to_vec(bytes, 6));
    out.extend(crc32(bytes).to_le_bytes());
    out.extend((bytes.len() as u32).to_le_bytes());
    out
}

/// Opens one gzip member, checking its CRC-32 and length.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, BillError> {
    let bad = |why: &str| BillError::Gzip(why.to_string());
    if bytes.len() < 18 || bytes[0] != 0x1f || bytes[1] != 0x8b || bytes[2] != 8 {
        return Err(bad("不是 gzip 文件"));
    }
    let flags = bytes[3];
    let mut at = 10;
    let need = |at: usize, n: usize| -> Result<(), BillError> {
        if at + n > bytes.len() {
            Err(bad("头部被截断"))
        } else {
            Ok(())
        }
    };
    if flags & 0x04 != 0 {
        need(at, 2)?;
        let len = usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
        need(at + 2, len)?;
        at += 2 + len;
    }
    for flag in [0x08, 0x10] {
        if flags & flag != 0 {
            let end = bytes[at..]
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| bad("头部被截断"))?;
            at += end + 1;
        }
    }
    if flags & 0x02 != 0 {
        at += 2;
    }
    if at + 8 > bytes.len() {
        return Err(bad("文件被截断"));
    }
    let body = &bytes[at..bytes.len() - 8];
    let trailer = &bytes[bytes.len() - 8..];
    let out = miniz_oxide::inflate::decompress_to_vec_with_limit(body, MAX_UNCOMPRESSED)
        .map_err(|e| BillError::Gzip(format!("{:?}", e.status)))?;
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if crc != crc32(&out) || size != out.len() as u32 {
        return Err(bad("校验失败"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_the_crc() {
        let text = "交易时间,公众账号ID\r\n`2021-01-28 17:07:11,`wx1\r\n".repeat(50);
        let packed = gzip(text.as_bytes());
        assert!(packed.len() < text.len());
        assert_eq!(gunzip(&packed).unwrap(), text.as_bytes());
        let mut broken = packed.clone();
        let n = broken.len();
        broken[n - 6] ^= 1;
        assert!(gunzip(&broken).is_err());
        assert!(gunzip(b"plain text, not gzip").is_err());
    }

    #[test]
    fn crc32_is_the_standard_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
