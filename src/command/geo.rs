//! Geo commands on sorted sets: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH,
//! GEOSEARCHSTORE, GEORADIUS(_RO), GEORADIUSBYMEMBER(_RO), with Redis 7.0's argument rules,
//! error texts, search order and output precision (see `keyspace::geohash`).
//!
//! A position is a member of a sorted set whose score is its 52-bit geohash, exactly as in
//! Redis, so `ZRANGE ... WITHSCORES` of a geo key reads the same on both.

use super::args::{float, int, is};
use super::long_double::LongDouble;
use super::zsets::{zadd, ZaddFlags};
use super::{KeySpec, Spec, ONE_KEY, TWO_KEYS};
use crate::bytes::Bytes;
use crate::error::Error;
use crate::keyspace::geohash::{self, Shape, ShapeKind};
use crate::keyspace::zset::{ScoreRange, ZSetValue};
use crate::keyspace::{Db, Entry, Lookup, Now, Value, View};
use crate::reply::Reply;

/// A distance unit of the geo commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GeoUnit {
    /// Meters.
    #[default]
    M,
    /// Kilometers.
    Km,
    /// Feet.
    Ft,
    /// Miles.
    Mi,
}

impl GeoUnit {
    /// Meters in one unit, as Redis converts.
    pub fn meters(self) -> f64 {
        match self {
            GeoUnit::M => 1.0,
            GeoUnit::Km => 1000.0,
            GeoUnit::Ft => 0.3048,
            GeoUnit::Mi => 1609.34,
        }
    }

    /// The unit's word in commands.
    pub fn word(self) -> &'static str {
        match self {
            GeoUnit::M => "m",
            GeoUnit::Km => "km",
            GeoUnit::Ft => "ft",
            GeoUnit::Mi => "mi",
        }
    }
}

fn unit(arg: &[u8]) -> Result<f64, Error> {
    [GeoUnit::M, GeoUnit::Km, GeoUnit::Ft, GeoUnit::Mi]
        .into_iter()
        .find(|u| is(arg, u.word()))
        .map(GeoUnit::meters)
        .ok_or_else(|| Error::msg("unsupported unit provided. please use M, KM, FT, MI"))
}

/// A longitude and latitude argument pair, as Redis's `extractLongLatOrReply`.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Error> {
    let (lon, lat) = (float(lon)?, float(lat)?);
    check_lon_lat(lon, lat)?;
    Ok((lon, lat))
}

fn check_lon_lat(lon: f64, lat: f64) -> Result<(), Error> {
    if !(geohash::LON_MIN..=geohash::LON_MAX).contains(&lon)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(Error::Command(format!("invalid longitude,latitude pair {lon:.6},{lat:.6}")));
    }
    Ok(())
}

/// `<radius> <unit>`: the radius and the unit's meters.
fn radius_arg(r: &[u8], u: &[u8]) -> Result<(f64, f64), Error> {
    let r = super::args::parse_f64(r).ok_or_else(|| Error::msg("need numeric radius"))?;
    if r < 0.0 {
        return Err(Error::msg("radius cannot be negative"));
    }
    Ok((r, unit(u)?))
}

/// `<width> <height> <unit>`.
fn box_arg(w: &[u8], h: &[u8], u: &[u8]) -> Result<(f64, f64, f64), Error> {
    let w = super::args::parse_f64(w).ok_or_else(|| Error::msg("need numeric width"))?;
    let h = super::args::parse_f64(h).ok_or_else(|| Error::msg("need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(Error::msg("height or width cannot be negative"));
    }
    Ok((w, h, unit(u)?))
}

fn as_zset(entry: &Entry) -> Result<&ZSetValue, Error> {
    match &entry.value {
        Value::ZSet(z) => Ok(z),
        _ => Err(Error::WrongType),
    }
}

fn zset_of<'t>(t: &'t impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Option<&'t ZSetValue>, Error> {
    t.entry(key, now).map(as_zset).transpose()
}

/// A coordinate as Redis prints it (`addReplyHumanLongDouble`).
fn human(v: f64) -> Reply {
    Reply::Bulk(Bytes::from(LongDouble::from_f64(v).to_human()))
}

/// `GEOADD`: adds or updates `(longitude, latitude, member)` items; returns how many were
/// added (with `ch`, added or moved).
///
/// # Errors
/// `ERR invalid longitude,latitude pair ...` outside the limits (checked before anything is
/// stored); `WRONGTYPE`.
pub(crate) fn geoadd(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    items: &[(f64, f64, &[u8])],
    nx: bool,
    xx: bool,
    ch: bool,
) -> Result<usize, Error> {
    let mut pairs = Vec::with_capacity(items.len());
    for &(lon, lat, member) in items {
        check_lon_lat(lon, lat)?;
        let score = geohash::score_of(lon, lat).expect("checked limits");
        pairs.push((score, member));
    }
    let r = zadd(t, now, key, &pairs, ZaddFlags { nx, xx, ch, ..ZaddFlags::default() })?;
    Ok(if ch { r.added + r.updated } else { r.added })
}

/// `GEOPOS`: the position of each member (None where missing).
pub(crate) fn geopos<M: AsRef<[u8]>>(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    members: &[M],
) -> Result<Vec<Option<(f64, f64)>>, Error> {
    let z = zset_of(t, now, key)?;
    Ok(members.iter().map(|m| z.and_then(|z| z.score(m.as_ref())).map(geohash::decode_score)).collect())
}

/// `GEODIST`: meters between two members divided by `per_unit` (None if one is missing).
pub(crate) fn geodist(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    a: &[u8],
    b: &[u8],
    per_unit: f64,
) -> Result<Option<f64>, Error> {
    let Some(z) = zset_of(t, now, key)? else { return Ok(None) };
    let (Some(sa), Some(sb)) = (z.score(a), z.score(b)) else { return Ok(None) };
    let ((lon1, lat1), (lon2, lat2)) = (geohash::decode_score(sa), geohash::decode_score(sb));
    Ok(Some(geohash::distance(lon1, lat1, lon2, lat2) / per_unit))
}

/// One match of a search: member, stored score, position and distance from the center
/// (meters until the reply divides by the unit).
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) member: Bytes,
    pub(crate) score: f64,
    pub(crate) lon: f64,
    pub(crate) lat: f64,
    pub(crate) dist: f64,
}

/// Every member inside `shape`, scanning Redis's boxes in Redis's order, stopping once
/// `limit` (if not 0) are found.
pub(crate) fn members_in(z: &ZSetValue, shape: &Shape, limit: usize) -> Vec<Found> {
    let mut out = Vec::new();
    for b in geohash::scan_order(&geohash::search_boxes(shape)) {
        if !out.is_empty() && limit != 0 && out.len() >= limit {
            break;
        }
        let (min, max) = geohash::box_scores(b);
        let range = ScoreRange { min, min_exclusive: false, max, max_exclusive: true };
        for (member, score) in z.range(z.score_ranks(&range), false) {
            let (lon, lat) = geohash::decode_score(score);
            if let Some(dist) = shape.contains(lon, lat) {
                out.push(Found { member: member.to_bytes(), score, lon, lat, dist });
            }
            if !out.is_empty() && limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// Sorts matches by distance, stably, as Redis's sort does.
pub(crate) fn sort_found(found: &mut [Found], desc: bool) {
    if desc {
        found.sort_by(|a, b| b.dist.partial_cmp(&a.dist).unwrap_or(std::cmp::Ordering::Equal));
    } else {
        found.sort_by(|a, b| a.dist.partial_cmp(&b.dist).unwrap_or(std::cmp::Ordering::Equal));
    }
}

/// Which search command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Radius,
    RadiusRo,
    ByMember,
    ByMemberRo,
    Search,
    SearchStore,
}

/// What a search answers: a reply, or matches to store at a key.
enum Outcome<'a> {
    Reply(Reply),
    Store { key: &'a [u8], items: Vec<(Bytes, f64)> },
}

/// Redis's `georadiusGeneric`: parses in Redis's order (the key's type first, then the
/// fixed arguments, then the options, then their conflicts) and searches.
fn search<'a>(z: Option<&ZSetValue>, a: &[&'a [u8]], fl: Flavor) -> Result<Outcome<'a>, Error> {
    let geosearch = matches!(fl, Flavor::Search | Flavor::SearchStore);
    let nostore = matches!(fl, Flavor::RadiusRo | Flavor::ByMemberRo);
    let mut center = (0.0, 0.0);
    let mut kind = ShapeKind::Circle(0.0);
    let mut conversion = 1.0;
    let mut store_key: Option<&'a [u8]> = None;
    let mut storedist = false;
    let member_pos = |z: &ZSetValue, m: &[u8]| {
        z.score(m)
            .map(geohash::decode_score)
            .ok_or_else(|| Error::msg("could not decode requested zset member"))
    };
    let base = match fl {
        Flavor::Radius | Flavor::RadiusRo => {
            center = lon_lat(a[2], a[3])?;
            let (r, conv) = radius_arg(a[4], a[5])?;
            (kind, conversion) = (ShapeKind::Circle(r), conv);
            6
        }
        Flavor::ByMember | Flavor::ByMemberRo => {
            if let Some(z) = z {
                center = member_pos(z, a[2])?;
                let (r, conv) = radius_arg(a[3], a[4])?;
                (kind, conversion) = (ShapeKind::Circle(r), conv);
            }
            5
        }
        Flavor::Search => 2,
        Flavor::SearchStore => {
            store_key = Some(a[1]);
            3
        }
    };
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort: Option<bool> = None; // Some(desc)
    let mut count: i64 = 0;
    let rest = &a[base..];
    let remaining = rest.len();
    let mut i = 0;
    while i < remaining {
        let arg = rest[i];
        if is(arg, "withdist") {
            withdist = true;
        } else if is(arg, "withhash") {
            withhash = true;
        } else if is(arg, "withcoord") {
            withcoord = true;
        } else if is(arg, "any") {
            any = true;
        } else if is(arg, "asc") {
            sort = Some(false);
        } else if is(arg, "desc") {
            sort = Some(true);
        } else if is(arg, "count") && i + 1 < remaining {
            count = int(rest[i + 1])?;
            if count <= 0 {
                return Err(Error::msg("COUNT must be > 0"));
            }
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist"))
            && i + 1 < remaining
            && !nostore
            && !geosearch
        {
            store_key = Some(rest[i + 1]);
            storedist = is(arg, "storedist");
            i += 1;
        } else if is(arg, "storedist") && fl == Flavor::SearchStore {
            storedist = true;
        } else if is(arg, "frommember") && i + 1 < remaining && geosearch && !fromloc {
            if let Some(z) = z {
                center = member_pos(z, rest[i + 1])?;
            }
            frommember = true;
            i += 1;
        } else if is(arg, "fromlonlat") && i + 2 < remaining && geosearch && !frommember {
            center = lon_lat(rest[i + 1], rest[i + 2])?;
            fromloc = true;
            i += 2;
        } else if is(arg, "byradius") && i + 2 < remaining && geosearch && !bybox {
            let (r, conv) = radius_arg(rest[i + 1], rest[i + 2])?;
            (kind, conversion) = (ShapeKind::Circle(r), conv);
            byradius = true;
            i += 2;
        } else if is(arg, "bybox") && i + 3 < remaining && geosearch && !byradius {
            let (w, h, conv) = box_arg(rest[i + 1], rest[i + 2], rest[i + 3])?;
            (kind, conversion) = (ShapeKind::Box(w, h), conv);
            bybox = true;
            i += 3;
        } else {
            return Err(Error::syntax());
        }
        i += 1;
    }
    if store_key.is_some() && (withdist || withhash || withcoord) {
        let what =
            if fl == Flavor::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(Error::Command(format!(
            "{what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = String::from_utf8_lossy(a[0]);
    if geosearch && !(frommember || fromloc) {
        return Err(Error::Command(format!(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if geosearch && !(byradius || bybox) {
        return Err(Error::Command(format!(
            "exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(Error::msg("the ANY argument requires COUNT argument"));
    }
    let Some(z) = z else {
        return Ok(match store_key {
            Some(key) => Outcome::Store { key, items: Vec::new() },
            None => Outcome::Reply(Reply::Array(Vec::new())),
        });
    };
    if count != 0 && sort.is_none() && !any {
        sort = Some(false);
    }
    let shape = Shape { lon: center.0, lat: center.1, conversion, kind };
    let limit = if any { count as usize } else { 0 };
    let mut found = members_in(z, &shape, limit);
    if found.is_empty() && store_key.is_none() {
        return Ok(Outcome::Reply(Reply::Array(Vec::new())));
    }
    let returned = if count == 0 || (found.len() as i64) < count { found.len() } else { count as usize };
    if let Some(desc) = sort {
        sort_found(&mut found, desc);
    }
    found.truncate(returned);
    for f in &mut found {
        f.dist /= conversion;
    }
    if let Some(key) = store_key {
        let mut items: Vec<(Bytes, f64)> = Vec::with_capacity(found.len());
        for f in found {
            // A member met twice (boxes that coincide) is stored once.
            if !items.iter().any(|(m, _)| *m == f.member) {
                items.push((f.member, if storedist { f.dist } else { f.score }));
            }
        }
        return Ok(Outcome::Store { key, items });
    }
    let options = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
    let replies = found.into_iter().map(|f| {
        if options == 0 {
            return Reply::Bulk(f.member);
        }
        let mut item = vec![Reply::Bulk(f.member)];
        if withdist {
            item.push(Reply::Bulk(Bytes::from(geohash::format_distance(f.dist))));
        }
        if withhash {
            item.push(Reply::Int(f.score as i64));
        }
        if withcoord {
            item.push(Reply::Array(vec![human(f.lon), human(f.lat)]));
        }
        Reply::Array(item)
    });
    Ok(Outcome::Reply(Reply::Array(replies.collect())))
}

/// Stores a search's matches at `key` as a sorted set (replacing its value and TTL), or
/// deletes `key` when there are none; answers how many.
fn store(t: &mut Db<'_>, key: &[u8], items: Vec<(Bytes, f64)>) -> Reply {
    let n = items.len();
    if n == 0 {
        t.remove(key);
    } else {
        t.insert(key, Value::ZSet(Box::new(ZSetValue::from_entries(items))), None);
        t.signal_ready(key);
    }
    Reply::Int(n as i64)
}

/// Runs a search that may store (GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCHSTORE).
fn search_write(
    t: &mut Db<'_>,
    now: &Now<'_>,
    a: &[&[u8]],
    src: usize,
    fl: Flavor,
) -> Result<Reply, Error> {
    let outcome = {
        let z = zset_of(&*t, now, a[src])?;
        search(z, a, fl)?
    };
    Ok(match outcome {
        Outcome::Reply(r) => r,
        Outcome::Store { key, items } => store(t, key, items),
    })
}

fn search_read(t: &View<'_>, now: &Now<'_>, a: &[&[u8]], fl: Flavor) -> Result<Reply, Error> {
    match search(zset_of(t, now, a[1])?, a, fl)? {
        Outcome::Reply(r) => Ok(r),
        Outcome::Store { .. } => unreachable!("read-only searches never store"),
    }
}

/// The keys of `GEORADIUS`/`GEORADIUSBYMEMBER`: the source, and the key after the last
/// `STORE`/`STOREDIST` from argument 5 on (Redis's `georadiusGetKeys`).
fn radius_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    let mut keys = vec![1];
    let mut stored = None;
    let mut i = 5;
    while i < a.len() {
        if (is(a[i], "store") || is(a[i], "storedist")) && i + 1 < a.len() {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    keys.extend(stored);
    Ok(keys)
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::write("geoadd", -5, ONE_KEY, geoadd_cmd),
    Spec::read("geopos", -2, ONE_KEY, geopos_cmd),
    Spec::read("geodist", -4, ONE_KEY, geodist_cmd),
    Spec::read("geohash", -2, ONE_KEY, geohash_cmd),
    Spec::write("georadius", -6, KeySpec::Custom(radius_keys), georadius_cmd),
    Spec::read("georadius_ro", -6, ONE_KEY, georadius_ro_cmd),
    Spec::write("georadiusbymember", -5, KeySpec::Custom(radius_keys), georadiusbymember_cmd),
    Spec::read("georadiusbymember_ro", -5, ONE_KEY, georadiusbymember_ro_cmd),
    Spec::read("geosearch", -7, ONE_KEY, geosearch_cmd),
    Spec::write("geosearchstore", -8, TWO_KEYS, geosearchstore_cmd),
];

// ----- handlers -----

fn geoadd_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut i = 2;
    while i < a.len() {
        if is(a[i], "nx") {
            nx = true;
        } else if is(a[i], "xx") {
            xx = true;
        } else if is(a[i], "ch") {
            ch = true;
        } else {
            break;
        }
        i += 1;
    }
    // As Redis: whole triples, not both NX and XX, and at least one (ZADD's own check).
    if (a.len() - i) % 3 != 0 || (xx && nx) || i == a.len() {
        return Err(Error::syntax());
    }
    let mut items = Vec::with_capacity((a.len() - i) / 3);
    for c in a[i..].chunks_exact(3) {
        let (lon, lat) = lon_lat(c[0], c[1])?;
        items.push((lon, lat, c[2]));
    }
    Ok(Reply::Int(geoadd(t, now, a[1], &items, nx, xx, ch)? as i64))
}

fn geopos_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let pos = geopos(t, now, a[1], &a[2..])?;
    Ok(Reply::Array(
        pos.into_iter()
            .map(|p| p.map_or(Reply::Nil, |(lon, lat)| Reply::Array(vec![human(lon), human(lat)])))
            .collect(),
    ))
}

fn geodist_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let per_unit = match a.len() {
        4 => 1.0,
        5 => unit(a[4])?,
        _ => return Err(Error::syntax()),
    };
    let d = geodist(t, now, a[1], a[2], a[3], per_unit)?;
    Ok(d.map_or(Reply::Nil, |d| Reply::Bulk(Bytes::from(geohash::format_distance(d)))))
}

fn geohash_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let z = zset_of(t, now, a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| {
                z.and_then(|z| z.score(m))
                    .map_or(Reply::Nil, |s| Reply::Bulk(Bytes::from(geohash::standard_string(s))))
            })
            .collect(),
    ))
}

fn georadius_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    search_write(t, now, a, 1, Flavor::Radius)
}

fn georadius_ro_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    search_read(t, now, a, Flavor::RadiusRo)
}

fn georadiusbymember_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    search_write(t, now, a, 1, Flavor::ByMember)
}

fn georadiusbymember_ro_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    search_read(t, now, a, Flavor::ByMemberRo)
}

pub(crate) fn geosearch_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    search_read(t, now, a, Flavor::Search)
}

pub(crate) fn geosearchstore_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    search_write(t, now, a, 2, Flavor::SearchStore)
}

/// Where a typed geo search is centered.
#[derive(Debug, Clone, PartialEq)]
pub enum GeoFrom {
    /// At a member's position (`FROMMEMBER`).
    Member(Vec<u8>),
    /// At a longitude and latitude (`FROMLONLAT`).
    LonLat(f64, f64),
}

/// The area of a typed geo search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeoBy {
    /// Within a radius (`BYRADIUS`).
    Radius(f64, GeoUnit),
    /// Within a box of width and height, centered (`BYBOX`).
    Box(f64, f64, GeoUnit),
}

/// One member a geo search found.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoMatch {
    /// The member.
    pub member: Bytes,
    /// Its distance from the center, in the search's unit.
    pub distance: f64,
    /// Its longitude, as stored (the center of its 52-bit cell).
    pub longitude: f64,
    /// Its latitude, as stored.
    pub latitude: f64,
}

/// `GEOSEARCH ... ASC [COUNT count]` for typed callers: the members within the area, nearest
/// first.
///
/// # Errors
/// `WRONGTYPE`; `ERR could not decode requested zset member` for a missing center member;
/// Redis's errors for a position out of range or a negative size.
pub(crate) fn geosearch(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    from: &GeoFrom,
    by: GeoBy,
    count: Option<usize>,
) -> Result<Vec<GeoMatch>, Error> {
    let z = zset_of(t, now, key)?;
    let (lon, lat) = match from {
        GeoFrom::LonLat(lon, lat) => {
            check_lon_lat(*lon, *lat)?;
            (*lon, *lat)
        }
        GeoFrom::Member(m) => match z {
            Some(z) => z
                .score(m)
                .map(geohash::decode_score)
                .ok_or_else(|| Error::msg("could not decode requested zset member"))?,
            None => (0.0, 0.0),
        },
    };
    let (kind, u) = match by {
        GeoBy::Radius(r, u) if r >= 0.0 => (ShapeKind::Circle(r), u),
        GeoBy::Radius(..) => return Err(Error::msg("radius cannot be negative")),
        GeoBy::Box(w, h, u) if w >= 0.0 && h >= 0.0 => (ShapeKind::Box(w, h), u),
        GeoBy::Box(..) => return Err(Error::msg("height or width cannot be negative")),
    };
    let Some(z) = z else { return Ok(Vec::new()) };
    let shape = Shape { lon, lat, conversion: u.meters(), kind };
    let mut found = members_in(z, &shape, 0);
    sort_found(&mut found, false);
    found.truncate(count.unwrap_or(usize::MAX));
    Ok(found
        .into_iter()
        .map(|f| GeoMatch {
            member: f.member,
            distance: f.dist / u.meters(),
            longitude: f.lon,
            latitude: f.lat,
        })
        .collect())
}
