//! Argument parsing shared by every command family, with Redis's exact rules and error texts.

use crate::error::Error;

pub(crate) use crate::bytes::parse_i64;

/// [`parse_i64`] with Redis's `value is not an integer or out of range` error.
pub(crate) fn int(arg: &[u8]) -> Result<i64, Error> {
    parse_i64(arg).ok_or_else(Error::not_integer)
}

/// Parses a float as Redis's `string2ld` (`strtold` on the whole argument) does: decimal or
/// exponent form, C99 hexadecimal form (`0x1.8p3`), `inf`/`infinity` allowed; `nan`, leading
/// spaces, trailing bytes and values too large to represent (`1e5000`) refused.
pub(crate) fn parse_f64(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let (neg, unsigned) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let v = match unsigned.as_bytes() {
        [b'0', b'x' | b'X', hex @ ..] => {
            let v = parse_hex_float(hex)?;
            if neg {
                -v
            } else {
                v
            }
        }
        _ => s.parse::<f64>().ok()?,
    };
    if v.is_nan() {
        return None;
    }
    // strtold answers ERANGE for an overflow: only a literal infinity may be infinite.
    if v.is_infinite() && !["inf", "infinity"].iter().any(|w| unsigned.eq_ignore_ascii_case(w)) {
        return None;
    }
    Some(v)
}

/// The digits of a C99 hexadecimal float after `0x`: hex digits with an optional point (at
/// least one digit), then an optional binary exponent `p[+-]digits`.
fn parse_hex_float(s: &[u8]) -> Option<f64> {
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0; // binary exponent to apply to `mantissa`
    let (mut digits, mut point, mut sticky) = (0, false, false);
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !point {
            point = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            digits += 1;
            if mantissa >> 56 == 0 {
                mantissa = mantissa << 4 | u64::from(d);
                if point {
                    exp -= 4;
                }
            } else {
                // Past 56 bits a double cannot hold the digit; keep its scale.
                sticky |= d != 0;
                if !point {
                    exp += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < s.len() {
        let rest = &s[i..];
        let (first, tail) = rest.split_first()?;
        if !matches!(first, b'p' | b'P') {
            return None;
        }
        let (sign, tail) = match tail {
            [b'-', t @ ..] => (-1, t),
            [b'+', t @ ..] => (1, t),
            t => (1, t),
        };
        if tail.is_empty() || !tail.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let e = tail.iter().fold(0i64, |e, &d| (e * 10 + i64::from(d - b'0')).min(1 << 20));
        exp += sign * e;
    }
    // A lost low digit only matters for rounding ties; nudge the mantissa past the tie.
    let m = if sticky { mantissa | 1 } else { mantissa };
    // Scale in two steps so that a large mantissa with a very negative exponent keeps its bits.
    let half = (exp / 2).clamp(-1100, 1100) as i32;
    let rest = (exp - i64::from(half)).clamp(-1100, 1100) as i32;
    Some(m as f64 * 2f64.powi(half) * 2f64.powi(rest))
}

/// [`parse_f64`] with Redis's `value is not a valid float` error.
pub(crate) fn float(arg: &[u8]) -> Result<f64, Error> {
    parse_f64(arg).ok_or_else(Error::not_float)
}

/// Formats a float as Redis does for `INCRBYFLOAT` replies (`%.17Lf`, trailing zeros
/// trimmed): plain decimal, no exponent, at most 17 decimals. Integers from 2^53 up print all
/// their exact digits, as Redis prints its binary value (`2^70` is `1180591620717411303424`,
/// not `1180591620717411300000`); smaller values print the shortest digits that read back to
/// the same double, which is what Redis's long double prints for short decimals such as 0.1.
pub(crate) fn format_f64(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 9_007_199_254_740_992.0 {
        return format!("{v:.0}");
    }
    let shortest = format!("{v}");
    match shortest.split_once('.') {
        Some((_, decimals)) if decimals.len() > 17 => {
            let mut rounded = format!("{v:.17}");
            let len = rounded.trim_end_matches('0').trim_end_matches('.').len();
            rounded.truncate(len);
            if rounded == "-0" {
                "0".into()
            } else {
                rounded
            }
        }
        _ => shortest,
    }
}

/// Case-insensitive comparison of an argument with an option name.
pub(crate) fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_strict() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"-0", b"01", b"+1", b" 1", b"1 ", b"1.0", b"9223372036854775808"] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"5e3"), Some(5000.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"abc"), None);
        assert_eq!(parse_f64(b"+2.5"), Some(2.5));
        assert_eq!(parse_f64(b"Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"1e5000"), None, "overflow is ERANGE");
        assert_eq!(parse_f64(b"-1e5000"), None);
        assert_eq!(parse_f64(b"1 "), None);
    }

    #[test]
    fn hexadecimal_floats_as_strtold() {
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"0X1A"), Some(26.0));
        assert_eq!(parse_f64(b"-0x1p1"), Some(-2.0));
        assert_eq!(parse_f64(b"0x1.8p3"), Some(12.0));
        assert_eq!(parse_f64(b"0x.8"), Some(0.5));
        assert_eq!(parse_f64(b"0x1p-2"), Some(0.25));
        assert_eq!(parse_f64(b"0x1P+4"), Some(16.0));
        assert_eq!(parse_f64(b"0xffffffffffffffffff"), Some(4722366482869645213696.0));
        for bad in [&b"0x"[..], b"0x.", b"0x1p", b"0x1p+", b"0xg", b"0x1.2.3", b"0x1p1.5", b"0x1pp1"] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_f64(b"0x1p99999999999"), None, "overflow is ERANGE");
        assert_eq!(format_f64(10.5), "10.5");
        assert_eq!(format_f64(3.0), "3");
        assert_eq!(format_f64(1e21), "1000000000000000000000");
        assert_eq!(format_f64(-0.0), "0");
        assert_eq!(format_f64(0.1), "0.1");
        assert_eq!(format_f64(-2.5), "-2.5");
        assert_eq!(format_f64(2f64.powi(70)), "1180591620717411303424");
        assert_eq!(format_f64(-(2f64.powi(60))), "-1152921504606846976");
        // At most 17 decimals, rounded, as %.17Lf.
        assert_eq!(format_f64(1e-18), "0");
        assert_eq!(format_f64(-1e-18), "0");
        assert_eq!(format_f64(2f64.powi(-57)), "0.00000000000000001");
        assert_eq!(format_f64(1.0 / 1024.0), "0.0009765625");
    }
}
