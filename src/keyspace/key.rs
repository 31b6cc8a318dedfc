//! Stored keys: short keys live inside the key's record, long ones on the heap. Elements of
//! large collections are stored the same way (see `dict::SmallStr`).

use super::memory::malloc_size;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest key kept inline: the record holds it, so a lookup compares it without following
/// a pointer and storing it allocates nothing. Most cache keys fit.
pub(crate) const INLINE: usize = 22;

/// A key as a table stores it. Hashes, compares and borrows as its bytes.
#[derive(Clone)]
pub(crate) enum Key {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl From<&[u8]> for Key {
    #[inline]
    fn from(k: &[u8]) -> Key {
        if k.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..k.len()].copy_from_slice(k);
            Key::Inline { len: k.len() as u8, bytes }
        } else {
            Key::Heap(k.into())
        }
    }
}

impl From<Vec<u8>> for Key {
    /// Keeps the vector's allocation when the string is too long to sit inline (it should
    /// have no spare capacity, or the string keeps that too).
    fn from(v: Vec<u8>) -> Key {
        if v.len() <= INLINE {
            Key::from(&v[..])
        } else {
            Key::Heap(v.into_boxed_slice())
        }
    }
}

impl Key {
    /// Heap bytes held (none when inline).
    pub(crate) fn heap(&self) -> usize {
        match self {
            Key::Inline { .. } => 0,
            Key::Heap(b) => malloc_size(b.len()),
        }
    }
}

impl Deref for Key {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(b) => b,
        }
    }
}

impl Key {
    /// True if this key is `other`. Every lookup ends here; a key of 8 to 16 bytes (most cache
    /// keys) compares as two overlapping words, without the call into `memcmp` that slice
    /// equality makes.
    #[inline]
    pub(crate) fn is(&self, other: &[u8]) -> bool {
        let this: &[u8] = self;
        let n = this.len();
        if n != other.len() {
            return false;
        }
        if (8..=16).contains(&n) {
            let word =
                |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().expect("8 bytes"));
            return word(this, 0) == word(other, 0) && word(this, n - 8) == word(other, n - 8);
        }
        this == other
    }
}

impl Borrow<[u8]> for Key {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self
    }
}

// Hash and order exactly as `[u8]` does, as `Borrow` requires.
impl Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        **self == **other
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.escape_ascii().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// `Key::is` agrees with slice equality on keys around its word lengths, inline and boxed.
    #[test]
    fn is_agrees_with_equality() {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 22, 23, 40] {
            let base: Vec<u8> = (0..n as u8).collect();
            keys.push(base.clone());
            for at in 0..n {
                let mut k = base.clone();
                k[at] ^= 0x40;
                keys.push(k);
            }
        }
        for a in &keys {
            for b in &keys {
                assert_eq!(Key::from(&a[..]).is(b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn short_and_long_keys_behave_as_bytes() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        let mut m: HashMap<Key, u32> = HashMap::new();
        let long = [b'x'; 40];
        m.insert(Key::from(&b"short"[..]), 1);
        m.insert(Key::from(&long[..]), 2);
        m.insert(Key::from(&b""[..]), 3);
        assert_eq!(m.get(&b"short"[..]), Some(&1));
        assert_eq!(m.get(&long[..]), Some(&2));
        assert_eq!(m.get(&b""[..]), Some(&3));
        assert!(matches!(Key::from(&[b'a'; 22][..]), Key::Inline { .. }));
        assert!(matches!(Key::from(&[b'a'; 23][..]), Key::Heap(_)));
        assert!(Key::from(&b"a"[..]) < Key::from(&long[..]));
    }
}
