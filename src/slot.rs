//! Key to slot, byte-exact to Redis `CLUSTER KEYSLOT` (level 0).
//!
//! `slot = crc16_xmodem(tag or key) & 0x3FFF`, where the tag is the bytes strictly between the
//! first `{` and the first `}` after it, used only when that span is non-empty.

/// Number of hash slots, as in Redis Cluster.
pub const SLOT_COUNT: u16 = 16384;

/// [`SLOT_COUNT`] as a `usize`, for indexing.
pub(crate) const SLOTS: usize = SLOT_COUNT as usize;

/// CRC-16/XMODEM tables for slice-by-8: `TABLES[k][b]` is the CRC (init 0) of byte `b` followed
/// by `k` zero bytes. Computed at compile time.
static TABLES: [[u16; 256]; 8] = build_tables();

const fn build_tables() -> [[u16; 256]; 8] {
    let mut t = [[0u16; 256]; 8];
    let mut b = 0;
    while b < 256 {
        let mut crc = (b as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            bit += 1;
        }
        t[0][b] = crc;
        b += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = t[k - 1][b];
            t[k][b] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            b += 1;
        }
        k += 1;
    }
    t
}

/// CRC-16/XMODEM (poly 0x1021, init 0, no reflection): the checksum Redis Cluster uses.
///
/// Eight bytes per step with slice-by-8 tables; the CRC is linear, so the running CRC is folded
/// into the first two bytes of each block and the eight table lookups are XORed together.
///
/// ```
/// assert_eq!(slotstore::crc16(b"123456789"), 0x31C3);
/// ```
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let b0 = c[0] ^ (crc >> 8) as u8;
        let b1 = c[1] ^ crc as u8;
        crc = TABLES[7][b0 as usize]
            ^ TABLES[6][b1 as usize]
            ^ TABLES[5][c[2] as usize]
            ^ TABLES[4][c[3] as usize]
            ^ TABLES[3][c[4] as usize]
            ^ TABLES[2][c[5] as usize]
            ^ TABLES[1][c[6] as usize]
            ^ TABLES[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc << 8) ^ TABLES[0][((crc >> 8) as u8 ^ b) as usize];
    }
    crc
}

/// The bytes of `word` that equal `b`, as the high bit of each (SWAR). Any match sets some bit,
/// and the lowest set bit is exactly the first match.
#[inline]
fn matching_bytes(word: u64, b: u8) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

/// The first position of `b` in `h`, eight bytes per step (SWAR): the tag scan runs on every
/// command, and most keys have no `{` at all.
#[inline]
fn find_byte(h: &[u8], b: u8) -> Option<usize> {
    let mut chunks = h.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let found = matching_bytes(u64::from_le_bytes(c.try_into().expect("8 bytes")), b);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks.remainder().iter().position(|&c| c == b).map(|p| at + p)
}

/// True if a key of 8 to 16 bytes holds a `{`: its first and last eight bytes (overlapping when
/// shorter than 16) tested as two words, no loop. Most keys have no tag, and this is all they
/// pay for the scan.
#[inline]
fn has_open_brace(key: &[u8]) -> bool {
    let word = |at: usize| u64::from_le_bytes(key[at..at + 8].try_into().expect("8 bytes"));
    matching_bytes(word(0), b'{') | matching_bytes(word(key.len() - 8), b'{') != 0
}

/// The bytes Redis hashes for `key`: its `{hash tag}` if it has a non-empty one, else the key.
///
/// ```
/// assert_eq!(slotstore::hash_tag(b"user:{42}:cart"), b"42");
/// assert_eq!(slotstore::hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
/// assert_eq!(slotstore::hash_tag(b"foo{{bar}}zap"), b"{bar");
/// ```
#[inline]
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if (8..=16).contains(&key.len()) && !has_open_brace(key) {
        return key;
    }
    find_tag(key)
}

/// [`hash_tag`] by scanning for the braces.
fn find_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = find_byte(key, b'{') {
        let rest = &key[open + 1..];
        if let Some(close) = find_byte(rest, b'}') {
            if close > 0 {
                return &rest[..close];
            }
        }
    }
    key
}

/// The hash slot of `key`, exactly as Redis `CLUSTER KEYSLOT` computes it.
///
/// ```
/// use slotstore::key_slot;
/// assert_eq!(key_slot(b"foo"), 12182);
/// assert_eq!(key_slot("user:{42}:profile"), key_slot("user:{42}:cart"));
/// ```
#[inline]
pub fn key_slot(key: impl AsRef<[u8]>) -> u16 {
    crc16(hash_tag(key.as_ref())) & (SLOT_COUNT - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(key: &[u8]) -> u16 {
        crc16::State::<crc16::XMODEM>::calculate(hash_tag(key)) & 0x3FFF
    }

    #[test]
    fn check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    /// Every vector of redis-cluster-semantics.md §1.
    #[test]
    fn spec_vectors() {
        let cases: &[(&[u8], u16)] = &[
            (b"foo", 12182),
            (b"hello", 866),
            (b"bar", 5061),
            (b"somekey", 11058),
            (b"foo{hash_tag}", 2515),
            (b"bar{hash_tag}", 2515),
            (b"user:1", 10778),
            (b"user:2", 6777),
            (b"user:{42}:profile", 8000),
            (b"user:{42}:cart", 8000),
            (b"{user1000}.following", 3443),
            (b"{user1000}.followers", 3443),
            (b"foo{}{bar}", 8363),
            (b"foo{{bar}}zap", 4015),
            (b"foo{bar}{zap}", 5061),
            (b"{}", 15257),
            (b"{", 4092),
            (b"}", 12090),
            (b"", 0),
            (b"a{b", 13340),
            (b"{a}}", 15495),
            (b"{}x", 10595),
        ];
        for (key, slot) in cases {
            assert_eq!(key_slot(key), *slot, "key {:?}", String::from_utf8_lossy(key));
        }
        assert_eq!(crc16(b"foo"), 0xAF96);
        assert_eq!(crc16(b"hello"), 0xC362);
        assert_eq!(crc16(b"{user1000}"), crc16(b"{user1000}"));
        assert_eq!(crc16(b"user1000"), 0x4D73);
        assert_eq!(crc16(b"{bar"), 0xCFAF);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Random binary keys salted with braces agree with the `crc16` crate's XMODEM.
        #[test]
        fn matches_reference(parts in proptest::collection::vec(
            prop_oneof![Just(b'{'), Just(b'}'), any::<u8>()], 0..64)) {
            prop_assert_eq!(key_slot(&parts), reference(&parts));
            prop_assert_eq!(crc16(&parts), crc16::State::<crc16::XMODEM>::calculate(&parts));
        }
    }
}
