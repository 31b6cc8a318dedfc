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

/// An immutable byte string: up to [`Bytes::INLINE`] bytes held in place, longer ones in a
/// reference-counted buffer.
///
/// A `GET` of a short value copies it into the `Bytes` itself: no allocation, no reference
/// count to bump on the way out or drop on the way back, and nothing shared with the store.
/// A longer value is handed back as a clone of the stored buffer, a reference-count bump.
/// Dereferences to `[u8]`; compares, orders and hashes as its bytes.
///
/// ```
/// let b = slotstore::Bytes::from("kim");
/// assert_eq!(&*b, b"kim");
/// assert_eq!(b, "kim");
/// ```
#[derive(Clone)]
pub struct Bytes(Repr);

/// Which way a [`Bytes`] holds its bytes: in place exactly when there are at most
/// [`Bytes::INLINE`] of them, so two equal strings are always held the same way and the heap
/// a string takes follows from its length alone (memory accounting relies on it).
#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; Bytes::INLINE] },
    Shared(Arc<[u8]>),
}

// The inline form is as large as the shared one allows in 40 bytes: a tag, a length, 38 bytes.
const _: () = assert!(std::mem::size_of::<Bytes>() == 40);

impl Bytes {
    /// The longest string held in place, with no allocation.
    pub const INLINE: usize = 38;

    /// Copies `bytes` into a new string (in place if short, else a new shared buffer).
    #[inline]
    pub fn copy_from(bytes: &[u8]) -> Self {
        match Bytes::inline(bytes) {
            Some(b) => b,
            None => Bytes(Repr::Shared(Arc::from(bytes))),
        }
    }

    #[inline]
    fn inline(bytes: &[u8]) -> Option<Self> {
        (bytes.len() <= Bytes::INLINE).then(|| {
            let mut buf = [0; Bytes::INLINE];
            copy_short(&mut buf, bytes);
            Bytes(Repr::Inline { len: bytes.len() as u8, buf })
        })
    }

    /// The first `len` bytes of `buf` (`len` at most [`Bytes::INLINE`]), held in place.
    ///
    /// Copies all of `buf` whatever `len` is: one fixed-size move instead of a copy sized at
    /// run time, for a caller (the store's inline strings) whose buffer is at least that long.
    /// The bytes past `len` are never read.
    #[inline]
    pub(crate) fn inline_prefix(buf: &[u8; Bytes::INLINE], len: usize) -> Self {
        debug_assert!(len <= Bytes::INLINE);
        Bytes(Repr::Inline { len: len.min(Bytes::INLINE) as u8, buf: *buf })
    }

    /// A copy of `bytes`: in place if short; else in the buffer this thread last handed out
    /// at that length if its holder has dropped it (so a loop of reads of values up to
    /// [`SPARE_MAX`] bytes allocates nothing after the first); otherwise in a new buffer,
    /// which becomes the thread's spare of that length.
    ///
    /// What a cache's `get` costs is mostly its copy out: malloc, the `Arc` header, and on drop
    /// free. Reusing a buffer nobody else holds turns that into a fixed-length copy and a
    /// reference-count bump. Lengths above [`SPARE_MAX`] allocate as [`Bytes::copy_from`].
    #[inline]
    pub(crate) fn copy_reusing(bytes: &[u8]) -> Self {
        if let Some(b) = Bytes::inline(bytes) {
            return b;
        }
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
                    return Bytes(Repr::Shared(Arc::clone(spare.as_ref().expect("present"))));
                }
                let fresh: Arc<[u8]> = Arc::from(bytes);
                // Only an empty place takes the new buffer: replacing a spare still held would
                // cost a reference-count drop on every read of a caller that keeps its values.
                if spare.is_none() {
                    *spare = Some(Arc::clone(&fresh));
                }
                Bytes(Repr::Shared(fresh))
            })
            .unwrap_or_else(|_| Bytes::copy_from(bytes))
    }

    /// The bytes as UTF-8, if they are.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self).ok()
    }

    /// The bytes to change in place, if no one else holds this buffer (a reader that got it
    /// from `GET`, or a replication effect not yet applied, keeps its own view).
    pub(crate) fn get_mut(&mut self) -> Option<&mut [u8]> {
        match &mut self.0 {
            Repr::Inline { len, buf } => Some(&mut buf[..usize::from(*len)]),
            Repr::Shared(b) => Arc::get_mut(b),
        }
    }
}

impl Deref for Bytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Shared(b) => b,
        }
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        **self == **other
    }
}

impl Eq for Bytes {}

impl PartialOrd for Bytes {
    fn partial_cmp(&self, other: &Bytes) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bytes {
    fn cmp(&self, other: &Bytes) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

/// Hashes as `[u8]` does, as `Borrow<[u8]>` requires (a map keyed by `Bytes` is searched by
/// a `&[u8]`).
impl std::hash::Hash for Bytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
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
        match Bytes::inline(&v) {
            Some(b) => b,
            None => Bytes(Repr::Shared(Arc::from(v))),
        }
    }
}

impl From<String> for Bytes {
    fn from(s: String) -> Self {
        Bytes::from(s.into_bytes())
    }
}

impl PartialEq<[u8]> for Bytes {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<&[u8]> for Bytes {
    fn eq(&self, other: &&[u8]) -> bool {
        **self == **other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Bytes {
    fn eq(&self, other: &&[u8; N]) -> bool {
        **self == other[..]
    }
}

impl PartialEq<str> for Bytes {
    fn eq(&self, other: &str) -> bool {
        **self == *other.as_bytes()
    }
}

impl PartialEq<&str> for Bytes {
    fn eq(&self, other: &&str) -> bool {
        **self == *other.as_bytes()
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value still held is never written over: the next copy of that length goes to a new
    /// buffer. Once dropped, its buffer is reused (same address), with the new bytes in it.
    #[test]
    fn copy_reusing_never_touches_a_held_buffer() {
        let [a, b, c] = [b'a', b'b', b'c'].map(|x| [x; Bytes::INLINE + 2]);
        let first = Bytes::copy_reusing(&a);
        let second = Bytes::copy_reusing(&b);
        assert_eq!((&*first, &*second), (&a[..], &b[..]));
        assert_ne!(first.as_ptr(), second.as_ptr());
        let at = first.as_ptr();
        drop(first);
        let third = Bytes::copy_reusing(&c);
        assert_eq!((&*third, third.as_ptr()), (&c[..], at));
        // Other lengths and long values are plain copies.
        assert_eq!(&*Bytes::copy_reusing(&a[..Bytes::INLINE + 1]), &a[..Bytes::INLINE + 1]);
        let long = vec![7u8; SPARE_MAX + 1];
        assert_eq!(&*Bytes::copy_reusing(&long), &long[..]);
        assert_eq!(&*second, &b[..]);
    }

    /// Short strings are held in place, whichever way they were made; long ones are shared.
    /// Either way a `Bytes` equals, orders and hashes as its bytes, across the boundary.
    #[test]
    fn short_strings_in_place_and_comparisons_by_content() {
        use std::hash::BuildHasher;
        let inline = |b: &Bytes| matches!(b.0, Repr::Inline { .. });
        let hasher = std::collections::hash_map::RandomState::new();
        let mut all = Vec::new();
        for len in [0, 1, Bytes::INLINE - 1, Bytes::INLINE, Bytes::INLINE + 1, 100] {
            let v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let made = [
                Bytes::copy_from(&v),
                Bytes::copy_reusing(&v),
                Bytes::from(v.clone()),
                Bytes::from(&v[..]),
            ];
            for b in &made {
                assert_eq!((&**b, inline(b)), (&v[..], len <= Bytes::INLINE), "len {len}");
                assert_eq!(hasher.hash_one(b), hasher.hash_one(&v[..]), "len {len}");
                assert_eq!(b, &made[0]);
            }
            all.push((v, made[0].clone()));
        }
        // Ordered as the bytes are, whatever way each is held.
        for (v, b) in &all {
            for (w, c) in &all {
                assert_eq!(b.cmp(c), v.cmp(w));
            }
        }
        // A held-in-place string is changed in place; a shared one only when not shared.
        let mut short = Bytes::copy_from(b"abc");
        short.get_mut().expect("in place")[0] = b'x';
        assert_eq!(short, "xbc");
        let mut long = Bytes::copy_from(&[1; 50]);
        let other = long.clone();
        assert!(long.get_mut().is_none());
        drop(other);
        assert!(long.get_mut().is_some());
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
        const N: usize = Bytes::INLINE + 2;
        let held: Vec<Bytes> = (0..4u8).map(|i| Bytes::copy_reusing(&[i; N])).collect();
        let handles: Vec<_> = (0..2u8)
            .map(|t| {
                std::thread::spawn(move || {
                    (0..1000u32).all(|i| {
                        let v = [t.wrapping_add(i as u8); N];
                        *Bytes::copy_reusing(&v) == v
                    })
                })
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().expect("thread")));
        for (i, b) in held.iter().enumerate() {
            assert_eq!(&**b, &[i as u8; N]);
        }
    }
}
