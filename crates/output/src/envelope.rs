//! The envelope format: data sealed with AES-256-GCM under a session's data key, with the data
//! key itself wrapped by a KMS key and carried in the header, so that a file can be opened by
//! whoever may use the KMS key and by no one else.
//!
//! Layout (integers big-endian):
//!
//! ```text
//! magic      8 bytes   "OLENVLP1"
//! key_id     u16 length, then UTF-8   the KMS key that wrapped the data key (its ARN or id)
//! context    u16 length, then UTF-8   the encryption context, "session=<session id>"
//! wrapped    u16 length, then bytes   the data key as the key provider wrapped it
//! nonce      12 bytes                 random, never reused with the same data key
//! ciphertext the rest                 AES-256-GCM of the content, with its 16-byte tag last
//! ```
//!
//! Everything before the ciphertext is the AEAD's associated data: changing the header, the key
//! or the context makes the file fail to open. The context is also bound to the wrapped data key
//! (KMS encryption context), so a data key cannot be moved to another session's files.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

/// The first bytes of every envelope.
pub const MAGIC: &[u8; 8] = b"OLENVLP1";

/// A session's data key, in plain text (zeroed on drop) and as wrapped by its KMS key.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; 32]>,
    /// The KMS key that wrapped it, as the key provider names it (an ARN for AWS KMS).
    pub key_id: String,
    pub wrapped: Vec<u8>,
    pub context: String,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("key_id", &self.key_id)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

/// The header of an envelope: what is needed to unwrap its data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key_id: String,
    pub context: String,
    pub wrapped: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("not an openliveness envelope")]
    NotAnEnvelope,
    #[error("the envelope is truncated or malformed")]
    Malformed,
    #[error("the envelope does not open with this data key (changed, or another key)")]
    DoesNotOpen,
    #[error("no randomness available")]
    Random,
}

/// The encryption context of a session's data key.
pub fn session_context(session_id: &str) -> String {
    format!("session={session_id}")
}

/// Fills `bytes` from the operating system's CSPRNG.
pub fn random(bytes: &mut [u8]) -> Result<(), EnvelopeError> {
    aws_lc_rs::rand::fill(bytes).map_err(|_| EnvelopeError::Random)
}

/// Seals `content` under `key` into a self-contained envelope.
pub fn seal(key: &DataKey, content: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let mut out = Vec::with_capacity(content.len() + 128);
    out.extend_from_slice(MAGIC);
    for field in [
        key.key_id.as_bytes(),
        key.context.as_bytes(),
        key.wrapped.as_slice(),
    ] {
        let length = u16::try_from(field.len()).map_err(|_| EnvelopeError::Malformed)?;
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(field);
    }
    let mut nonce = [0u8; NONCE_LEN];
    random(&mut nonce)?;
    out.extend_from_slice(&nonce);
    let aad = out.clone();
    let mut sealed = content.to_vec();
    aead_key(&key.plaintext)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut sealed,
        )
        .map_err(|_| EnvelopeError::DoesNotOpen)?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Whether `bytes` start like an envelope.
pub fn is_envelope(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Reads an envelope's header; returns it and where its nonce starts.
pub fn header(bytes: &[u8]) -> Result<(Header, usize), EnvelopeError> {
    if !is_envelope(bytes) {
        return Err(EnvelopeError::NotAnEnvelope);
    }
    let mut at = MAGIC.len();
    let mut fields: Vec<Vec<u8>> = Vec::with_capacity(3);
    for _ in 0..3 {
        let length = bytes.get(at..at + 2).ok_or(EnvelopeError::Malformed)?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        at += 2;
        fields.push(
            bytes
                .get(at..at + length)
                .ok_or(EnvelopeError::Malformed)?
                .to_vec(),
        );
        at += length;
    }
    let wrapped = fields.pop().ok_or(EnvelopeError::Malformed)?;
    let context = String::from_utf8(fields.pop().ok_or(EnvelopeError::Malformed)?)
        .map_err(|_| EnvelopeError::Malformed)?;
    let key_id = String::from_utf8(fields.pop().ok_or(EnvelopeError::Malformed)?)
        .map_err(|_| EnvelopeError::Malformed)?;
    Ok((
        Header {
            key_id,
            context,
            wrapped,
        },
        at,
    ))
}

/// Opens an envelope with its (unwrapped) data key.
pub fn open(plaintext_key: &[u8; 32], bytes: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let (_, nonce_at) = header(bytes)?;
    let body_at = nonce_at + NONCE_LEN;
    let nonce = bytes
        .get(nonce_at..body_at)
        .ok_or(EnvelopeError::Malformed)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| EnvelopeError::Malformed)?;
    let mut body = bytes
        .get(body_at..)
        .ok_or(EnvelopeError::Malformed)?
        .to_vec();
    let opened = aead_key(plaintext_key)?
        .open_in_place(nonce, Aad::from(&bytes[..body_at]), &mut body)
        .map_err(|_| EnvelopeError::DoesNotOpen)?;
    Ok(opened.to_vec())
}

pub(crate) fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, EnvelopeError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| EnvelopeError::Malformed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key() -> DataKey {
        DataKey {
            plaintext: Zeroizing::new([7u8; 32]),
            key_id: "arn:aws:kms:us-east-1:111122223333:key/k".to_owned(),
            wrapped: vec![1, 2, 3],
            context: session_context("s"),
        }
    }

    #[test]
    fn an_envelope_opens_with_its_key_and_shows_its_header() {
        let sealed = seal(&key(), b"\xff\xd8\xff a jpeg").unwrap();
        assert!(is_envelope(&sealed));
        assert!(!sealed.windows(3).any(|w| w == b"\xff\xd8\xff"));
        let (header, _) = header(&sealed).unwrap();
        assert_eq!(header.key_id, key().key_id);
        assert_eq!(header.context, "session=s");
        assert_eq!(header.wrapped, vec![1, 2, 3]);
        assert_eq!(open(&[7u8; 32], &sealed).unwrap(), b"\xff\xd8\xff a jpeg");
    }

    #[test]
    fn a_changed_byte_or_another_key_does_not_open() {
        let sealed = seal(&key(), b"content").unwrap();
        assert_eq!(open(&[8u8; 32], &sealed), Err(EnvelopeError::DoesNotOpen));
        for at in [MAGIC.len() + 3, sealed.len() - 1, sealed.len() - 20] {
            let mut changed = sealed.clone();
            changed[at] ^= 1;
            assert!(open(&[7u8; 32], &changed).is_err(), "byte {at}");
        }
        assert_eq!(
            open(&[7u8; 32], &sealed[..12]),
            Err(EnvelopeError::Malformed)
        );
        assert_eq!(
            open(&[7u8; 32], b"plain"),
            Err(EnvelopeError::NotAnEnvelope)
        );
    }
}
