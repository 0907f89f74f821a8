//! Just enough PEM and DER reading to take an RSA public key and a serial number out of an X.509
//! certificate, without a certificate-parsing dependency (keeps `core` small on wasm32).

use base64::Engine as _;

/// One PEM block: its label (`PRIVATE KEY`, `CERTIFICATE`, …) and its DER bytes.
pub(crate) struct Pem {
    pub label: String,
    pub der: Vec<u8>,
}

/// Why a PEM block could not be read.
#[derive(Debug)]
pub(crate) enum PemError {
    NoBlock,
    Unterminated(String),
    Base64(String),
}

/// Reads the first PEM block of `text`.
///
/// Lenient on purpose: surrounding text, `\r\n`, and literal `\n` escapes (PEMs pasted into one
/// line of a dotenv file or a JSON string) are all accepted.
pub(crate) fn parse_pem(text: &str) -> Result<Pem, PemError> {
    let text = text.replace("\\n", "\n");
    let begin = text.find("-----BEGIN ").ok_or(PemError::NoBlock)?;
    let after_begin = &text[begin + "-----BEGIN ".len()..];
    let label_end = after_begin.find("-----").ok_or(PemError::NoBlock)?;
    let label = after_begin[..label_end].trim().to_string();
    let body = &after_begin[label_end + "-----".len()..];
    let end_marker = format!("-----END {label}-----");
    let end = body
        .find(&end_marker)
        .ok_or_else(|| PemError::Unterminated(label.clone()))?;
    let b64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| PemError::Base64(e.to_string()))?;
    Ok(Pem { label, der })
}

/// Encodes DER bytes as a PEM block with 64-character lines.
pub(crate) fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII, so any 64-byte chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// One DER TLV: its tag byte, its content, and the whole encoding (tag + length + content).
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

const TAG_INTEGER: u8 = 0x02;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_CONTEXT_0: u8 = 0xA0;

/// Reads one TLV from the front of `input`; returns it and the rest.
fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("unexpected end of DER")?;
    if tag & 0x1F == 0x1F {
        return Err("multi-byte DER tags are not supported".into());
    }
    let (&first_len, rest) = rest.split_first().ok_or("unexpected end of DER length")?;
    let (len, rest) = if first_len < 0x80 {
        (usize::from(first_len), rest)
    } else {
        let n = usize::from(first_len & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("unsupported DER length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("DER value runs past the end of the input".into());
    }
    let header_len = input.len() - rest.len();
    let tlv = Tlv {
        tag,
        content: &rest[..len],
        raw: &input[..header_len + len],
    };
    Ok((tlv, &rest[len..]))
}

fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(Tlv<'a>, &'a [u8]), String> {
    let (tlv, rest) = read_tlv(input)?;
    if tlv.tag != tag {
        return Err(format!(
            "expected {what} (tag 0x{tag:02X}), found tag 0x{:02X}",
            tlv.tag
        ));
    }
    Ok((tlv, rest))
}

/// What `core` needs from an X.509 certificate.
pub(crate) struct CertificateParts {
    /// Serial number as upper-case hex, without the DER sign byte (WeChat's `Wechatpay-Serial`).
    pub serial_hex: String,
    /// The `SubjectPublicKeyInfo` DER, ready for an SPKI parser or WebCrypto `importKey("spki")`.
    pub spki_der: Vec<u8>,
}

/// Walks `Certificate → TBSCertificate` down to the serial number and the public key info.
pub(crate) fn certificate_parts(der: &[u8]) -> Result<CertificateParts, String> {
    let (cert, _) = expect(der, TAG_SEQUENCE, "Certificate SEQUENCE")?;
    let (tbs, _) = expect(cert.content, TAG_SEQUENCE, "TBSCertificate SEQUENCE")?;
    let mut fields = tbs.content;
    let (first, rest) = read_tlv(fields)?;
    if first.tag == TAG_CONTEXT_0 {
        // Explicit [0] version; absent in v1 certificates.
        fields = rest;
    }
    let (serial, rest) = expect(fields, TAG_INTEGER, "serialNumber INTEGER")?;
    let (_signature_algorithm, rest) = expect(rest, TAG_SEQUENCE, "signature AlgorithmIdentifier")?;
    let (_issuer, rest) = expect(rest, TAG_SEQUENCE, "issuer Name")?;
    let (_validity, rest) = expect(rest, TAG_SEQUENCE, "validity")?;
    let (_subject, rest) = expect(rest, TAG_SEQUENCE, "subject Name")?;
    let (spki, _) = expect(rest, TAG_SEQUENCE, "subjectPublicKeyInfo")?;

    let mut serial_bytes = serial.content;
    while serial_bytes.len() > 1 && serial_bytes[0] == 0 {
        serial_bytes = &serial_bytes[1..];
    }
    Ok(CertificateParts {
        serial_hex: hex::encode_upper(serial_bytes),
        spki_der: spki.raw.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_form_lengths_are_read() {
        let mut der = vec![0x04, 0x81, 0x80];
        der.extend(std::iter::repeat_n(7u8, 0x80));
        der.push(0xFF);
        let (tlv, rest) = read_tlv(&der).unwrap();
        assert_eq!(tlv.content.len(), 0x80);
        assert_eq!(rest, &[0xFF]);
    }

    #[test]
    fn truncated_der_is_an_error_not_a_panic() {
        assert!(read_tlv(&[0x30, 0x05, 0x01]).is_err());
        assert!(read_tlv(&[0x30]).is_err());
        assert!(certificate_parts(&[0x30, 0x00]).is_err());
    }

    #[test]
    fn pem_with_escaped_newlines_is_read() {
        let pem = "-----BEGIN X-----\\nAAEC\\n-----END X-----\\n";
        let block = parse_pem(pem).unwrap();
        assert_eq!(block.label, "X");
        assert_eq!(block.der, vec![0, 1, 2]);
    }

    #[test]
    fn pem_round_trips() {
        let der: Vec<u8> = (0..=255).collect();
        let block = parse_pem(&to_pem("CERTIFICATE", &der)).unwrap();
        assert_eq!(block.label, "CERTIFICATE");
        assert_eq!(block.der, der);
    }
}
