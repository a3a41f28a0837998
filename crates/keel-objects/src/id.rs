//! Object identity: a namespace (the kind of object) and a 128-bit ID within it.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::error::ObjectError;

/// Longest namespace name accepted.
pub const MAX_NAMESPACE_BYTES: usize = 64;
/// Longest object name accepted by [`ObjectId::from_name`].
pub const MAX_NAME_BYTES: usize = 1024;

/// A kind of object (`session`, `task`, `named`, …): `[a-z0-9_-]{1,64}`, starting with a letter.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(String);

impl Namespace {
    /// Validates a namespace name.
    pub fn new(name: impl Into<String>) -> Result<Self, ObjectError> {
        let name = name.into();
        let valid = !name.is_empty()
            && name.len() <= MAX_NAMESPACE_BYTES
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            return Err(ObjectError::InvalidId(format!(
                "namespace {name:?} is not valid: use 1 to {MAX_NAMESPACE_BYTES} characters of a-z, 0-9, _ and -, starting with a letter"
            )));
        }
        Ok(Self(name))
    }

    /// The namespace's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A 128-bit object ID, shown as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 16]);

impl ObjectId {
    /// The ID a name reaches in a namespace: the same name always gives the same ID (like `idFromName`).
    pub fn from_name(namespace: &Namespace, name: &str) -> Result<Self, ObjectError> {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(ObjectError::InvalidId(format!(
                "object name is {} bytes long: names must be 1 to {MAX_NAME_BYTES} bytes",
                name.len()
            )));
        }
        let mut hasher = Sha256::new();
        hasher.update(namespace.as_str().as_bytes());
        hasher.update([0u8]);
        hasher.update(name.as_bytes());
        let digest = hasher.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        Ok(Self(id))
    }

    /// A fresh random ID that no name reaches (like `newUniqueId`).
    pub fn unique() -> Self {
        let mut id = [0u8; 16];
        // The OS random source failing is not something a caller can handle; fall back to a
        // time-and-counter mix so that an ID is still unique within this process.
        if getrandom::fill(&mut id).is_err() {
            use std::sync::atomic::{AtomicU64, Ordering};
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            id[..8].copy_from_slice(&nanos.to_le_bytes());
            id[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        }
        Self(id)
    }

    /// Parses 32 hex digits.
    pub fn parse(text: &str) -> Result<Self, ObjectError> {
        let bytes = text.as_bytes();
        let bad = || {
            ObjectError::InvalidId(format!(
                "object ID {:?} is not valid: an ID is 32 hex digits",
                truncate(text, 80)
            ))
        };
        if bytes.len() != 32 {
            return Err(bad());
        }
        let mut id = [0u8; 16];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or_else(bad)?;
            let lo = hex_value(pair[1]).ok_or_else(bad)?;
            id[i] = hi << 4 | lo;
        }
        Ok(Self(id))
    }

    /// The ID as 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(32);
        for b in self.0 {
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        out
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.to_hex())
    }
}

/// The full address of an object: namespace and ID.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The kind of object.
    pub namespace: Namespace,
    /// The object within its namespace.
    pub id: ObjectId,
}

impl ObjectKey {
    /// A key from its parts.
    pub fn new(namespace: Namespace, id: ObjectId) -> Self {
        Self { namespace, id }
    }

    /// The key a name reaches in a namespace.
    pub fn from_name(namespace: &Namespace, name: &str) -> Result<Self, ObjectError> {
        Ok(Self::new(
            namespace.clone(),
            ObjectId::from_name(namespace, name)?,
        ))
    }

    /// Parses `namespace/hexid` (the form [`Display`](fmt::Display) prints) or `namespace:name`.
    pub fn parse(text: &str) -> Result<Self, ObjectError> {
        if let Some((ns, id)) = text.split_once('/') {
            return Ok(Self::new(Namespace::new(ns)?, ObjectId::parse(id)?));
        }
        if let Some((ns, name)) = text.split_once(':') {
            return Self::from_name(&Namespace::new(ns)?, name);
        }
        Err(ObjectError::InvalidId(format!(
            "{:?} names no object: write NAMESPACE/ID (32 hex digits) or NAMESPACE:NAME",
            truncate(text, 80)
        )))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.id)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_namespaced() {
        let a = Namespace::new("session").unwrap();
        let b = Namespace::new("task").unwrap();
        let x = ObjectId::from_name(&a, "alice").unwrap();
        assert_eq!(x, ObjectId::from_name(&a, "alice").unwrap());
        assert_ne!(x, ObjectId::from_name(&a, "bob").unwrap());
        assert_ne!(x, ObjectId::from_name(&b, "alice").unwrap());
    }

    #[test]
    fn hex_round_trips_and_unique_ids_differ() {
        let id = ObjectId::unique();
        assert_ne!(id, ObjectId::unique());
        assert_eq!(ObjectId::parse(&id.to_hex()).unwrap(), id);
        let key = ObjectKey::new(Namespace::new("s").unwrap(), id);
        assert_eq!(ObjectKey::parse(&key.to_string()).unwrap(), key);
    }

    #[test]
    fn bad_ids_and_names_are_refused_with_a_reason() {
        assert!(
            ObjectId::parse("xyz")
                .unwrap_err()
                .to_string()
                .contains("32 hex digits")
        );
        assert!(Namespace::new("Bad Name").is_err());
        assert!(Namespace::new("").is_err());
        let ns = Namespace::new("s").unwrap();
        let long = "n".repeat(MAX_NAME_BYTES + 1);
        assert!(
            ObjectId::from_name(&ns, &long)
                .unwrap_err()
                .to_string()
                .contains("1024")
        );
        assert!(ObjectKey::parse("nothing").is_err());
        assert_eq!(
            ObjectKey::parse("s:alice").unwrap(),
            ObjectKey::from_name(&ns, "alice").unwrap()
        );
    }
}
