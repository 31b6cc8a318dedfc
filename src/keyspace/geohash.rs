//! Redis's geohash: 52-bit interleaved hashes of (longitude, latitude) in the Web Mercator
//! latitude range, stored as sorted-set scores; the haversine distance on Redis's earth
//! radius; and the search areas (a box and its eight neighbours) Redis scans for a radius or
//! box query. The arithmetic follows Redis's step by step (same operations in the same order,
//! libm's trigonometry), so positions, distances and search results match redis-server's.

/// Latitudes a geohash covers (EPSG:900913).
pub(crate) const LAT_MIN: f64 = -85.051_128_78;
/// See [`LAT_MIN`].
pub(crate) const LAT_MAX: f64 = 85.051_128_78;
/// Longitudes a geohash covers.
pub(crate) const LON_MIN: f64 = -180.0;
/// See [`LON_MIN`].
pub(crate) const LON_MAX: f64 = 180.0;
/// Steps of a stored position: 26 per coordinate, 52 bits.
pub(crate) const STEP_MAX: u8 = 26;
/// Redis's earth radius in meters.
const EARTH_RADIUS: f64 = 6_372_797.560_856;
const MERCATOR_MAX: f64 = 20_037_726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

/// A geohash of `step` bits per coordinate (`step == 0 && bits == 0` is "none").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Bits {
    pub(crate) bits: u64,
    pub(crate) step: u8,
}

impl Bits {
    fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

/// A range of one coordinate.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Range {
    pub(crate) min: f64,
    pub(crate) max: f64,
}

/// The cell a geohash names.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Area {
    pub(crate) lon: Range,
    pub(crate) lat: Range,
}

const WGS84_LON: Range = Range { min: LON_MIN, max: LON_MAX };
const WGS84_LAT: Range = Range { min: LAT_MIN, max: LAT_MAX };
/// The ranges of a standard geohash string (`GEOHASH` re-encodes into them).
pub(crate) const STANDARD_LAT: Range = Range { min: -90.0, max: 90.0 };

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (u64::from(xlo), u64::from(ylo));
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (interleaved, interleaved >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// Redis's `geohashEncode` in the given ranges; None outside the WGS84 limits.
pub(crate) fn encode_in(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Bits> {
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let mut lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min);
    let mut lon_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min);
    lat_offset *= (1u64 << step) as f64;
    lon_offset *= (1u64 << step) as f64;
    // C converts the doubles to uint32_t, truncating.
    Some(Bits { bits: interleave64(lat_offset as u32, lon_offset as u32), step })
}

/// [`encode_in`] the WGS84 ranges.
pub(crate) fn encode(lon: f64, lat: f64, step: u8) -> Option<Bits> {
    encode_in(WGS84_LON, WGS84_LAT, lon, lat, step)
}

/// The score a position is stored with (the 52-bit hash).
pub(crate) fn score_of(lon: f64, lat: f64) -> Option<f64> {
    encode(lon, lat, STEP_MAX).map(|h| align52(h) as f64)
}

/// Redis's `geohashDecode` in the WGS84 ranges.
fn decode(hash: Bits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let sep = deinterleave64(hash.bits);
    let lat_scale = WGS84_LAT.max - WGS84_LAT.min;
    let lon_scale = WGS84_LON.max - WGS84_LON.min;
    let ilat = sep as u32;
    let ilon = (sep >> 32) as u32;
    let div = (1u64 << hash.step) as f64;
    Some(Area {
        lat: Range {
            min: WGS84_LAT.min + (f64::from(ilat) * 1.0 / div) * lat_scale,
            max: WGS84_LAT.min + ((f64::from(ilat.wrapping_add(1))) * 1.0 / div) * lat_scale,
        },
        lon: Range {
            min: WGS84_LON.min + (f64::from(ilon) * 1.0 / div) * lon_scale,
            max: WGS84_LON.min + ((f64::from(ilon.wrapping_add(1))) * 1.0 / div) * lon_scale,
        },
    })
}

/// The position a score stands for: the center of its cell, clamped to the limits.
pub(crate) fn decode_score(score: f64) -> (f64, f64) {
    let area = decode(Bits { bits: score as u64, step: STEP_MAX }).expect("step is never zero");
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The 11-character standard geohash string of a stored score (`GEOHASH`).
pub(crate) fn standard_string(score: f64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    let bits = encode_in(WGS84_LON, STANDARD_LAT, lon, lat, STEP_MAX).map_or(0, |h| h.bits);
    (0..11)
        .map(|i| {
            let idx = if i == 10 { 0 } else { (bits >> (52 - (i + 1) * 5)) & 0x1f };
            ALPHABET[idx as usize] as char
        })
        .collect()
}

fn align52(h: Bits) -> u64 {
    h.bits << (52 - u32::from(h.step) * 2)
}

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// Meters between two latitudes on one meridian.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Redis's haversine distance in meters.
pub(crate) fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// A search area: a circle or a box (sizes in the query's unit), its center, and the unit's
/// meters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) lon: f64,
    pub(crate) lat: f64,
    /// Meters per unit.
    pub(crate) conversion: f64,
    pub(crate) kind: ShapeKind,
}

/// The form of a [`Shape`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum ShapeKind {
    /// Within this radius.
    Circle(f64),
    /// Within a box of this width and height (centered).
    Box(f64, f64),
}

impl Shape {
    /// The distance (meters) from the center to the point, if it is inside the shape.
    pub(crate) fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            ShapeKind::Circle(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conversion).then_some(d)
            }
            ShapeKind::Box(w, h) => {
                let (w, h) = (w * self.conversion, h * self.conversion);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// `[min_lon, min_lat, max_lon, max_lat]` (Redis's `geohashBoundingBox`).
    fn bounding_box(&self) -> [f64; 4] {
        let (height, width) = match self.kind {
            ShapeKind::Circle(r) => (self.conversion * r, self.conversion * r),
            ShapeKind::Box(w, h) => (self.conversion * (h / 2.0), self.conversion * (w / 2.0)),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS);
        let top = rad_deg(width / EARTH_RADIUS / deg_rad(self.lat + lat_delta).cos());
        let bottom = rad_deg(width / EARTH_RADIUS / deg_rad(self.lat - lat_delta).cos());
        let south = self.lat < 0.0;
        [
            if south { self.lon - bottom } else { self.lon - top },
            self.lat - lat_delta,
            if south { self.lon + bottom } else { self.lon + top },
            self.lat + lat_delta,
        ]
    }
}

fn estimate_steps(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

fn move_x(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = h.bits & 0xaaaaaaaaaaaaaaaa;
    let y = h.bits & 0x5555555555555555;
    let zz = 0x5555555555555555u64 >> (64 - u32::from(h.step) * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaau64 >> (64 - u32::from(h.step) * 2);
    h.bits = x | y;
}

fn move_y(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let x = h.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = h.bits & 0x5555555555555555;
    let zz = 0xaaaaaaaaaaaaaaaau64 >> (64 - u32::from(h.step) * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555555555555555u64 >> (64 - u32::from(h.step) * 2);
    h.bits = x | y;
}

fn moved(h: Bits, dx: i8, dy: i8) -> Bits {
    let mut n = h;
    move_x(&mut n, dx);
    move_y(&mut n, dy);
    n
}

/// The boxes to scan, in Redis's order: the center, then north, south, east, west,
/// north-east, north-west, south-east, south-west (unneeded ones zeroed).
pub(crate) fn search_boxes(shape: &Shape) -> [Bits; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = shape.bounding_box();
    let radius = match shape.kind {
        ShapeKind::Circle(r) => r,
        ShapeKind::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
    } * shape.conversion;
    let mut steps = estimate_steps(radius, shape.lat);
    let boxes = |steps: u8| {
        let hash = encode(shape.lon, shape.lat, steps).unwrap_or_default();
        let n = [
            hash,
            moved(hash, 0, 1),
            moved(hash, 0, -1),
            moved(hash, 1, 0),
            moved(hash, -1, 0),
            moved(hash, 1, 1),
            moved(hash, -1, 1),
            moved(hash, 1, -1),
            moved(hash, -1, -1),
        ];
        (n, decode(hash).unwrap_or_default())
    };
    let (mut n, mut area) = boxes(steps);
    let decoded = |b: Bits| decode(b).unwrap_or_default();
    let decrease = decoded(n[1]).lat.max < max_lat
        || decoded(n[2]).lat.min > min_lat
        || decoded(n[3]).lon.max < max_lon
        || decoded(n[4]).lon.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        (n, area) = boxes(steps);
    }
    if steps >= 2 {
        let zero = Bits::default();
        if area.lat.min < min_lat {
            n[2] = zero; // south
            n[8] = zero; // south-west
            n[7] = zero; // south-east
        }
        if area.lat.max > max_lat {
            n[1] = zero; // north
            n[5] = zero; // north-east
            n[6] = zero; // north-west
        }
        if area.lon.min < min_lon {
            n[4] = zero; // west
            n[8] = zero;
            n[6] = zero;
        }
        if area.lon.max > max_lon {
            n[3] = zero; // east
            n[7] = zero;
            n[5] = zero;
        }
    }
    n
}

/// The scores a box covers: `min` included, `max` excluded.
pub(crate) fn box_scores(h: Bits) -> (f64, f64) {
    let min = align52(h);
    let max = align52(Bits { bits: h.bits + 1, step: h.step });
    (min as f64, max as f64)
}

/// The boxes to scan as Redis's `membersOfAllNeighbors` walks them: zeroed boxes skipped,
/// and a box equal to the last one scanned skipped (huge radii make neighbours coincide).
pub(crate) fn scan_order(boxes: &[Bits; 9]) -> Vec<Bits> {
    let mut out = Vec::with_capacity(9);
    let mut last = 0usize;
    for (i, b) in boxes.iter().enumerate() {
        if b.is_zero() {
            continue;
        }
        // As Redis: `last` 0 means "none yet", so a repeat of the center box is scanned.
        if last != 0 && *b == boxes[last] {
            continue;
        }
        out.push(*b);
        last = i;
    }
    out
}

/// Formats a distance as Redis's `addReplyDoubleDistance`: rounded (ties to even, as
/// `llrint`) to 4 decimals.
pub(crate) fn format_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let scaled = d * 10_000.0;
    let mut r = scaled.round();
    if (scaled - scaled.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r -= scaled.signum();
    }
    let v = r as i64;
    let (neg, abs) = (v < 0, v.unsigned_abs());
    format!("{}{}.{:04}", if neg { "-" } else { "" }, abs / 10_000, abs % 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palermo_and_catania_as_the_redis_docs() {
        let p = score_of(13.361389, 38.115556).unwrap();
        let c = score_of(15.087269, 37.502669).unwrap();
        assert_eq!(p, 3479099956230698.0);
        assert_eq!(c, 3479447370796909.0);
        let (lon, lat) = decode_score(p);
        assert!((lon - 13.361389).abs() < 1e-5 && (lat - 38.115556).abs() < 1e-5);
        assert_eq!(
            format_distance(distance(lon, lat, decode_score(c).0, decode_score(c).1)),
            "166274.1516"
        );
        assert_eq!(standard_string(p), "sqc8b49rny0");
        assert_eq!(standard_string(c), "sqdtr74hyu0");
        assert_eq!(format_distance(0.0), "0.0000");
        assert_eq!(format_distance(1234.56789), "1234.5679");
        assert!(score_of(181.0, 0.0).is_none());
        assert!(score_of(0.0, 85.06).is_none());
    }
}
