//! Redis's `long double`: the x87 80-bit extended format (64-bit significand) that
//! redis-server on x86-64 Linux computes `INCRBYFLOAT` and `HINCRBYFLOAT` in, parsed as its
//! `string2ld` (glibc's `strtold` on the whole argument) and printed as its `ld2string` in
//! human mode (`%.17Lf`, trailing zeros and point trimmed).
//!
//! The arithmetic is `rustc_apfloat`'s `X87DoubleExtended` (the format LLVM uses for x87
//! `long double`, round to nearest even as the FPU does); the exact decimal expansion of the
//! result to 17 fractional digits is computed here with a small big integer, since the value
//! is its 64-bit significand times a power of two.

use rustc_apfloat::ieee::{Double, X87DoubleExtended};
use rustc_apfloat::{Float, FloatConvert, Round};

/// The longest argument `string2ld` accepts, exclusive (`MAX_LONG_DOUBLE_CHARS`).
const MAX_CHARS: usize = 5 * 1024;

/// One x87 extended-precision value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LongDouble(X87DoubleExtended);

impl LongDouble {
    /// The same value as `v` (every double is exact in the wider format).
    pub(crate) fn from_f64(v: f64) -> LongDouble {
        let d = Double::from_bits(u128::from(v.to_bits()));
        let mut loses = false;
        LongDouble(d.convert(&mut loses).value)
    }

    /// The nearest double.
    pub(crate) fn to_f64(self) -> f64 {
        let mut loses = false;
        let d: Double = self.0.convert(&mut loses).value;
        f64::from_bits(d.to_bits() as u64)
    }

    /// Parses as Redis's `string2ld`: the whole argument must be what `strtold` reads
    /// (decimal or exponent form, C99 hexadecimal, `inf`/`infinity` in any case), with no
    /// leading space; NaN, an overflow to infinity and an underflow to zero are refused.
    pub(crate) fn parse(arg: &[u8]) -> Option<LongDouble> {
        if arg.is_empty() || arg.len() >= MAX_CHARS {
            return None;
        }
        let s = std::str::from_utf8(arg).ok()?;
        let (neg, body) = match arg[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let v = if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
            X87DoubleExtended::INFINITY
        } else {
            let (hex, digits) = match body.as_bytes() {
                [b'0', b'x' | b'X', ..] => (true, &body[2..]),
                _ => (false, body),
            };
            let (mantissa, exponent) = split_number(digits, hex)?;
            let text = if hex {
                format!("0x{mantissa}p{}", exponent.unwrap_or("0"))
            } else {
                match exponent {
                    Some(e) => format!("{mantissa}e{e}"),
                    None => mantissa.to_string(),
                }
            };
            let v = X87DoubleExtended::from_str_r(&text, Round::NearestTiesToEven).ok()?.value;
            // strtold's ERANGE: overflow to infinity, or underflow to zero of a number
            // with a non-zero digit.
            let nonzero = mantissa.bytes().any(|b| b.is_ascii_alphanumeric() && b != b'0');
            if v.is_infinite() || (v.is_zero() && nonzero) {
                return None;
            }
            v
        };
        Some(LongDouble(if neg { -v } else { v }))
    }

    /// `self + other`, rounded to nearest even in the 64-bit significand.
    pub(crate) fn add(self, other: LongDouble) -> LongDouble {
        LongDouble(self.0.add_r(other.0, Round::NearestTiesToEven).value)
    }

    /// Neither NaN nor infinite.
    pub(crate) fn is_finite(self) -> bool {
        self.0.is_finite()
    }

    /// Redis's `ld2string(..., LD_STR_HUMAN)`: `%.17Lf` (the exact value rounded to 17
    /// decimals, ties to even as glibc), then trailing zeros and a trailing point removed;
    /// `-0` prints `0`. Infinities print `inf`/`-inf`.
    pub(crate) fn to_human(self) -> String {
        if self.0.is_infinite() {
            return if self.0.is_negative() { "-inf" } else { "inf" }.into();
        }
        let bits = self.0.to_bits();
        let neg = bits >> 79 & 1 == 1;
        let exp_field = (bits >> 64 & 0x7fff) as i64;
        let sig = bits as u64;
        // value = sig * 2^e2 (a denormal has the smallest exponent, without integer bit).
        let e2 = exp_field.max(1) - 16383 - 63;
        let scaled = scale_to_17_decimals(sig, e2);
        let digits = scaled.into_decimal();
        let (int, frac) =
            if digits.len() > 17 { digits.split_at(digits.len() - 17) } else { ("", digits.as_str()) };
        let mut out = String::with_capacity(digits.len() + 20);
        if neg {
            out.push('-');
        }
        out.push_str(if int.is_empty() { "0" } else { int });
        out.push('.');
        for _ in frac.len()..17 {
            out.push('0');
        }
        out.push_str(frac);
        let trimmed = out.trim_end_matches('0').trim_end_matches('.').len();
        out.truncate(trimmed);
        if out == "-0" {
            out = "0".into();
        }
        out
    }
}

/// Splits a number's digits (after the sign and any `0x`) into mantissa and exponent
/// digits, checking `strtold`'s grammar: at least one digit with an optional point, then an
/// optional complete exponent (`e`/`p`, an optional sign, digits).
fn split_number(s: &str, hex: bool) -> Option<(&str, Option<&str>)> {
    let is_digit = |b: u8| if hex { b.is_ascii_hexdigit() } else { b.is_ascii_digit() };
    let b = s.as_bytes();
    let (mut i, mut digits, mut point) = (0, 0, false);
    while i < b.len() {
        if b[i] == b'.' && !point {
            point = true;
        } else if is_digit(b[i]) {
            digits += 1;
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i == b.len() {
        return Some((s, None));
    }
    let marker = if hex { b'p' } else { b'e' };
    if b[i].to_ascii_lowercase() != marker {
        return None;
    }
    let exp = &s[i + 1..];
    let unsigned = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    if unsigned.is_empty() || !unsigned.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((&s[..i], Some(exp)))
}

/// `sig * 2^e2 * 10^17`, rounded to an integer, ties to even.
fn scale_to_17_decimals(sig: u64, e2: i64) -> Big {
    let mut n = Big::from(sig);
    n.mul_small(100_000_000); // 10^8
    n.mul_small(1_000_000_000); // 10^9
    if e2 >= 0 {
        n.shl(e2 as usize);
        return n;
    }
    let shift = (-e2) as usize;
    let (mut q, rest) = n.shr_with_rest(shift);
    // rest: 0 exact, 1 below half, 2 exactly half, 3 above half.
    if rest == 3 || (rest == 2 && q.is_odd()) {
        q.add_one();
    }
    q
}

/// A little unsigned big integer (base 2^32 limbs, least significant first): just what the
/// exact printing of a long double needs.
#[derive(Clone, Debug)]
struct Big(Vec<u32>);

impl From<u64> for Big {
    fn from(v: u64) -> Big {
        Big(vec![v as u32, (v >> 32) as u32])
    }
}

impl Big {
    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn shl(&mut self, bits: usize) {
        let (words, bits) = (bits / 32, bits % 32);
        if bits != 0 {
            let mut carry = 0u32;
            for limb in &mut self.0 {
                let v = (*limb << bits) | carry;
                carry = *limb >> (32 - bits);
                *limb = v;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, std::iter::repeat(0).take(words));
    }

    fn bit(&self, i: usize) -> bool {
        self.0.get(i / 32).is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// `self >> bits`, and how the bits shifted out compare with half of the last kept unit:
    /// 0 none set, 1 below half, 2 exactly half, 3 above half.
    fn shr_with_rest(&self, bits: usize) -> (Big, u8) {
        let half = bits >= 1 && self.bit(bits - 1);
        let below = (0..bits.saturating_sub(1)).any(|i| self.bit(i));
        let rest = match (half, below) {
            (false, false) => 0,
            (false, true) => 1,
            (true, false) => 2,
            (true, true) => 3,
        };
        let (words, bits) = (bits / 32, bits % 32);
        let mut out: Vec<u32> = self.0.iter().skip(words).copied().collect();
        if bits != 0 {
            for i in 0..out.len() {
                let hi = out.get(i + 1).copied().unwrap_or(0);
                out[i] = (out[i] >> bits) | (hi << (32 - bits));
            }
        }
        let mut q = Big(out);
        q.trim();
        (q, rest)
    }

    fn is_odd(&self) -> bool {
        self.bit(0)
    }

    fn add_one(&mut self) {
        for limb in &mut self.0 {
            let (v, carry) = limb.overflowing_add(1);
            *limb = v;
            if !carry {
                return;
            }
        }
        self.0.push(1);
    }

    /// Decimal digits, without leading zeros ("0" for zero).
    fn into_decimal(mut self) -> String {
        self.trim();
        let mut chunks = Vec::new();
        while !self.0.is_empty() {
            // Divide by 10^9, most significant limb first.
            let mut rem = 0u64;
            for limb in self.0.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*limb);
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            self.trim();
            chunks.push(rem as u32);
        }
        let mut out = chunks.pop().map_or_else(|| "0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(current: &str, by: &str) -> Option<String> {
        let v = LongDouble::parse(current.as_bytes())?.add(LongDouble::parse(by.as_bytes())?);
        v.is_finite().then(|| v.to_human())
    }

    #[test]
    fn sums_as_redis_7_0_prints_them() {
        // Each expected text is what redis-server 7.0.15 answered on x86-64.
        assert_eq!(incr("10000", "0.1").as_deref(), Some("10000.09999999999999964"));
        assert_eq!(incr("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(incr("0.000003814697265625", "0").as_deref(), Some("0.00000381469726562"));
        assert_eq!(incr("0.000000000000000015", "0").as_deref(), Some("0.00000000000000002"));
        assert_eq!(incr("-1e-30", "0").as_deref(), Some("0"));
        assert_eq!(incr("0x1p-16445", "0").as_deref(), Some("0"));
        assert_eq!(incr("3", "-3").as_deref(), Some("0"));
        assert_eq!(incr("1e4932", "0").unwrap().len(), 4933);
        assert!(incr("1e4932", "1e4932").is_none(), "overflow to infinity");
    }

    #[test]
    fn parses_as_strtold() {
        for ok in [
            "1",
            "-1.5",
            "+2",
            ".5",
            "5.",
            "1e3",
            "1E+3",
            "1e-3",
            "0x10",
            "0X1.8p3",
            "0x.8",
            "inf",
            "-Infinity",
            "INF",
            "1e-4940",
            "0e99999999999",
        ] {
            assert!(LongDouble::parse(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            "", " 1", "1 ", "1e", "1e+", ".e1", ".", "0x", "0x.p1", "0x1p", "nan", "-nan", "1e4933",
            "1e-4960", "1_0", "--1", "1\0", "infinit", "0x1g", "1.5.5",
        ] {
            assert!(LongDouble::parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        assert!(LongDouble::parse("1".repeat(5119).as_bytes()).is_none(), "overflow");
        assert!(LongDouble::parse("1".repeat(5120).as_bytes()).is_none(), "too long");
        assert_eq!(LongDouble::from_f64(0.1).to_human(), "0.10000000000000001");
        assert_eq!(LongDouble::parse(b"0.1").unwrap().to_f64(), 0.1);
    }
}
