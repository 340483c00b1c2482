//! Just enough PEM and DER to read an RSA public key: SubjectPublicKeyInfo
//! `SEQUENCE { SEQUENCE { OID rsaEncryption, NULL }, BIT STRING { RSAPublicKey } }` and PKCS#1
//! `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::KeyError;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
/// 1.2.840.113549.1.1.1
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The label (`PUBLIC KEY`, …) and DER body of the first PEM block.
pub(super) fn pem_decode(pem: &str) -> Result<(&str, Vec<u8>), KeyError> {
    let pem = pem.trim();
    let rest = pem
        .strip_prefix("-----BEGIN ")
        .ok_or(KeyError::Pem("no BEGIN line"))?;
    let (label, rest) = rest
        .split_once("-----")
        .ok_or(KeyError::Pem("no BEGIN line"))?;
    let end = format!("-----END {label}-----");
    let (body, _) = rest
        .split_once(end.as_str())
        .ok_or(KeyError::Pem("no matching END line"))?;
    let b64: String = body
        .replace("\\n", "")
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|_| KeyError::Pem("the body is not base64"))?;
    Ok((label, der))
}

/// Reads one DER TLV with the expected tag; returns its contents and what follows.
fn tlv(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), KeyError> {
    let bad = KeyError::Pem("malformed DER");
    let (&t, rest) = input.split_first().ok_or(bad.clone())?;
    if t != tag {
        return Err(bad);
    }
    let (&first, rest) = rest.split_first().ok_or(bad.clone())?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(bad);
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return Err(bad);
    }
    Ok(rest.split_at(len))
}

/// (n, e) from a SubjectPublicKeyInfo holding an RSA key.
pub(super) fn spki_rsa(der: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
    let (spki, _) = tlv(der, SEQUENCE)?;
    let (alg, rest) = tlv(spki, SEQUENCE)?;
    let (oid, _) = tlv(alg, OID)?;
    if oid != RSA_ENCRYPTION {
        return Err(KeyError::NotRsa);
    }
    let (bits, _) = tlv(rest, BIT_STRING)?;
    match bits.split_first() {
        Some((0, key)) => rsa_public_key(key),
        _ => Err(KeyError::Pem("malformed DER")),
    }
}

/// (n, e) from a PKCS#1 RSAPublicKey.
pub(super) fn rsa_public_key(der: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
    let (seq, _) = tlv(der, SEQUENCE)?;
    let (n, rest) = tlv(seq, INTEGER)?;
    let (e, _) = tlv(rest, INTEGER)?;
    Ok((n, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths_and_refuses_truncation() {
        assert_eq!(
            tlv(&[0x02, 0x01, 0x05, 0xff], INTEGER),
            Ok((&[5u8][..], &[0xffu8][..]))
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        assert_eq!(
            tlv(&long, 0x04).map(|(c, r)| (c.len(), r.len())),
            Ok((0x80, 0))
        );
        assert!(tlv(&[0x02, 0x05, 0x01], INTEGER).is_err());
        assert!(tlv(&[0x02, 0x80], INTEGER).is_err());
        assert!(tlv(&[0x30, 0x00], INTEGER).is_err());
        assert!(tlv(&[], INTEGER).is_err());
    }

    #[test]
    fn refuses_a_non_rsa_algorithm() {
        // SEQUENCE { SEQUENCE { OID 1.2.840.10045.2.1 (EC) }, BIT STRING { 0 } }
        let ec = [
            0x30, 0x0e, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x03,
            0x01, 0x00,
        ];
        assert_eq!(spki_rsa(&ec), Err(KeyError::NotRsa));
    }
}
