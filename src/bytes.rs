//! Reference-counted byte strings (level 0): keys and values handed back to callers.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Parses a signed 64-bit integer as Redis's `string2ll` does: no sign other than a leading
/// `-`, no leading zeros, no spaces.
pub(crate) fn parse_i64(arg: &[u8]) -> Option<i64> {
    let (neg, digits) = match arg {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, arg),
    };
    match digits {
        [] => return None,
        [b'0'] if !neg => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        v = v.checked_mul(10)?;
        v = if neg { v.checked_sub(d)? } else { v.checked_add(d)? };
    }
    Some(v)
}

/// Copies `src` to the start of `dst` (at least as long) by fixed-size moves, two of them
/// overlapping to cover any length in their range, as a small `memcpy` does inside: the
/// store copies short values on every `SET` and every `GET`, and a call into the general
/// `memcpy` for a few dozen bytes cost about as much as the rest of the copy.
#[inline]
pub(crate) fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    match n {
        32..=64 => {
            dst[..32].copy_from_slice(&src[..32]);
            dst[n - 32..n].copy_from_slice(&src[n - 32..]);
        }
        16..=31 => {
            dst[..16].copy_from_slice(&src[..16]);
            dst[n - 16..n].copy_from_slice(&src[n - 16..]);
        }
        8..=15 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..n].copy_from_slice(&src[n - 8..]);
        }
        _ => dst[..n].copy_from_slice(src),
    }
}

/// The longest copy [`Bytes::copy_reusing`] reuses a buffer for (the store's inline strings
/// fit: see `keyspace::value`).
pub(crate) const SPARE_MAX: usize = 80;

thread_local! {
    /// Per thread, per length up to [`SPARE_MAX`]: the buffer last handed out, to be reused
    /// once its holder drops it.
    static SPARES: std::cell::RefCell<[Option<Arc<[u8]>>; SPARE_MAX + 1]> =
        const { std::cell::RefCell::new([const { None }; SPARE_MAX + 1]) };
}

/// An immutable, reference-counted byte string.
///
/// A `GET` of a long value hands back a clone of the stored `Bytes`, a reference-count bump;
/// a short value (stored inside its key's record) is copied, into a buffer the reading thread
/// reuses once the previous value of that length is dropped. Dereferences to `[u8]`.
///
/// ```
/// let b = slotstore::Bytes::from("kim");
/// assert_eq!(&*b, b"kim");
/// assert_eq!(b, "kim");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(Arc<[u8]>);

impl Bytes {
    /// Copies `bytes` into a new shared buffer.
    pub fn copy_from(bytes: &[u8]) -> Self {
        Bytes(Arc::from(bytes))
    }

    /// A copy of `bytes`, in the buffer this thread last handed out at that length if its
    /// holder has dropped it (so a loop of reads of short values allocates nothing after the
    /// first); otherwise in a new buffer, which becomes the thread's spare of that length.
    ///
    /// What a cache's `get` costs is mostly its copy out: malloc, the `Arc` header, and on drop
    /// free. Reusing a buffer nobody else holds turns that into a fixed-length copy and a
    /// reference-count bump. Lengths above [`SPARE_MAX`] allocate as [`Bytes::copy_from`].
    #[inline]
    pub(crate) fn copy_reusing(bytes: &[u8]) -> Self {
        if bytes.len() > SPARE_MAX {
            return Bytes::copy_from(bytes);
        }
        // `try_with`: a read from another thread-local's destructor, after this one is gone,
        // copies as before instead of panicking.
        SPARES
            .try_with(|spares| {
                let mut spares = spares.borrow_mut();
                let spare = &mut spares[bytes.len()];
                if let Some(buf) = spare.as_mut().and_then(Arc::get_mut) {
                    copy_short(buf, bytes);
                    return Bytes(Arc::clone(spare.as_ref().expect("present")));
                }
                let fresh: Arc<[u8]> = Arc::from(bytes);
                // Only an empty place takes the new buffer: replacing a spare still held would
                // cost a reference-count drop on every read of a caller that keeps its values.
                if spare.is_none() {
                    *spare = Some(Arc::clone(&fresh));
                }
                Bytes(fresh)
            })
            .unwrap_or_else(|_| Bytes::copy_from(bytes))
    }

    /// The bytes as UTF-8, if they are.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The bytes to change in place, if no one else holds this buffer (a reader that got it
    /// from `GET`, or a replication effect not yet applied, keeps its own view).
    pub(crate) fn get_mut(&mut self) -> Option<&mut [u8]> {
        Arc::get_mut(&mut self.0)
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Self {
        Bytes::copy_from(b)
    }
}

impl From<&str> for Bytes {
    fn from(s: &str) -> Self {
        Bytes::copy_from(s.as_bytes())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(Arc::from(v))
    }
}

impl From<String> for Bytes {
    fn from(s: String) -> Self {
        Bytes::from(s.into_bytes())
    }
}

impl PartialEq<[u8]> for Bytes {
    fn eq(&self, other: &[u8]) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&[u8]> for Bytes {
    fn eq(&self, other: &&[u8]) -> bool {
        *self.0 == **other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Bytes {
    fn eq(&self, other: &&[u8; N]) -> bool {
        *self.0 == other[..]
    }
}

impl PartialEq<str> for Bytes {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl PartialEq<&str> for Bytes {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value still held is never written over: the next copy of that length goes to a new
    /// buffer. Once dropped, its buffer is reused (same address), with the new bytes in it.
    #[test]
    fn copy_reusing_never_touches_a_held_buffer() {
        let first = Bytes::copy_reusing(b"aaaa");
        let second = Bytes::copy_reusing(b"bbbb");
        assert_eq!((&*first, &*second), (&b"aaaa"[..], &b"bbbb"[..]));
        assert_ne!(first.as_ptr(), second.as_ptr());
        let at = first.as_ptr();
        drop(first);
        let third = Bytes::copy_reusing(b"cccc");
        assert_eq!((&*third, third.as_ptr()), (&b"cccc"[..], at));
        // Other lengths and long values are plain copies.
        assert_eq!(&*Bytes::copy_reusing(b"dd"), b"dd");
        let long = vec![7u8; SPARE_MAX + 1];
        assert_eq!(&*Bytes::copy_reusing(&long), &long[..]);
        assert_eq!(&*second, b"bbbb");
    }

    /// A copy made from another thread-local's destructor, after the spares may already be
    /// gone, still copies (no panic on a thread's way out).
    #[test]
    fn copies_from_a_thread_local_destructor() {
        struct CopyOnDrop(std::sync::mpsc::Sender<Bytes>);
        impl Drop for CopyOnDrop {
            fn drop(&mut self) {
                let _ = self.0.send(Bytes::copy_reusing(b"late"));
            }
        }
        thread_local! {
            static LATE: std::cell::RefCell<Option<CopyOnDrop>> = const { std::cell::RefCell::new(None) };
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Registered before the spares, so on Linux it is destroyed after them.
            LATE.with(|l| *l.borrow_mut() = Some(CopyOnDrop(tx)));
            drop(Bytes::copy_reusing(b"warm"));
        })
        .join()
        .expect("thread");
        assert_eq!(&*rx.recv().expect("sent"), b"late");
    }

    /// Threads keep their own spares: values copied on one thread and held across another
    /// thread's copies keep their bytes.
    #[test]
    fn spares_are_per_thread() {
        let held: Vec<Bytes> = (0..4u8).map(|i| Bytes::copy_reusing(&[i; 8])).collect();
        let handles: Vec<_> = (0..2u8)
            .map(|t| {
                std::thread::spawn(move || {
                    (0..1000u32).all(|i| {
                        let v = [t.wrapping_add(i as u8); 8];
                        *Bytes::copy_reusing(&v) == v
                    })
                })
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().expect("thread")));
        for (i, b) in held.iter().enumerate() {
            assert_eq!(&**b, &[i as u8; 8]);
        }
    }
}
