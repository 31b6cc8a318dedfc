//! `key_slot` against the `crc16` crate's bytewise CRC-16/XMODEM.
//!
//! One criterion group per key shape, every group with `Throughput::Bytes` of the key length so
//! the report reads as bytes/s and the ratio of two lines in a group is the speedup:
//! - `key_slot/slotstore` vs `key_slot/crc16_crate`: the whole slot function (hash tag, CRC,
//!   mask), slotstore's slice-by-8 against the same rule written with the crate;
//! - `crc16/slotstore` vs `crc16/crc16_crate`: the raw checksum over all the key's bytes.
//!
//! For the tagged key the slot function hashes only the tag (`42`), so its `key_slot` lines
//! measure the tag scan more than the CRC; the raw `crc16` lines still cover the whole key.
//!
//! Run: `cargo bench --bench key_slot`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

/// The slot function written with the `crc16` crate: the reference slotstore must match.
fn crate_key_slot(key: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(slotstore::hash_tag(key)) & 0x3FFF
}

/// A key of `len` printable bytes, deterministic.
fn key_of_len(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect()
}

fn bench_key_slot(c: &mut Criterion) {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("len=16", key_of_len(16)),
        ("tagged user:{42}:profile", b"user:{42}:profile".to_vec()),
        ("len=64", key_of_len(64)),
        ("len=1024", key_of_len(1024)),
    ];
    for (name, key) in &cases {
        // The two implementations must agree before their speed means anything.
        assert_eq!(slotstore::key_slot(key), crate_key_slot(key));
        assert_eq!(slotstore::crc16(key), crc16::State::<crc16::XMODEM>::calculate(key));

        let mut g = c.benchmark_group(format!("key_slot {name}"));
        g.throughput(Throughput::Bytes(key.len() as u64));
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(2));
        g.bench_with_input(BenchmarkId::new("key_slot", "slotstore"), key, |b, k| {
            b.iter(|| slotstore::key_slot(black_box(&k[..])))
        });
        g.bench_with_input(BenchmarkId::new("key_slot", "crc16_crate"), key, |b, k| {
            b.iter(|| crate_key_slot(black_box(&k[..])))
        });
        g.bench_with_input(BenchmarkId::new("crc16", "slotstore"), key, |b, k| {
            b.iter(|| slotstore::crc16(black_box(&k[..])))
        });
        g.bench_with_input(BenchmarkId::new("crc16", "crc16_crate"), key, |b, k| {
            b.iter(|| crc16::State::<crc16::XMODEM>::calculate(black_box(&k[..])))
        });
        g.finish();
    }
}

criterion_group!(benches, bench_key_slot);
criterion_main!(benches);
