//! Typed methods for geo positions (sorted sets scored by 52-bit geohashes).

use super::Client;
use crate::command::geo::{self, GeoBy, GeoFrom, GeoMatch, GeoUnit};
use crate::error::Error;
use crate::slot::key_slot;

impl Client {
    /// `GEOADD`: adds or moves `(longitude, latitude, member)` items in the sorted set at
    /// `key`; returns how many members are new.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::{GeoBy, GeoFrom, GeoUnit};
    /// let client = slotstore::Cluster::builder().build()?.client();
    /// client.geoadd("sicily", &[(13.361389, 38.115556, "Palermo"), (15.087269, 37.502669, "Catania")])?;
    /// let d = client.geodist("sicily", "Palermo", "Catania", GeoUnit::Km)?.unwrap();
    /// assert!((d - 166.2742).abs() < 1e-3);
    /// let near = client.geosearch("sicily", &GeoFrom::LonLat(15.0, 37.0), GeoBy::Radius(100.0, GeoUnit::Km), None)?;
    /// assert_eq!(&near[0].member[..], b"Catania");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `ERR invalid longitude,latitude pair ...` outside longitudes -180..180 and latitudes
    /// -85.05112878..85.05112878 (nothing is stored then); `WRONGTYPE`; `CLUSTERDOWN`.
    pub fn geoadd<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        items: &[(f64, f64, M)],
    ) -> Result<usize, Error> {
        let key = key.as_ref();
        let items: Vec<(f64, f64, &[u8])> =
            items.iter().map(|(lon, lat, m)| (*lon, *lat, m.as_ref())).collect();
        self.write(key_slot(key), &[key], |t, now| {
            geo::geoadd(t, now, key, &items, false, false, false)
        })?
    }

    /// `GEOPOS`: each member's `(longitude, latitude)` as stored, None where missing.
    ///
    /// # Errors
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn geopos<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<(f64, f64)>>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| geo::geopos(t, now, key, members))?
    }

    /// `GEODIST`: the distance between two members in `unit` (None if one is missing).
    ///
    /// # Errors
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn geodist(
        &self,
        key: impl AsRef<[u8]>,
        a: impl AsRef<[u8]>,
        b: impl AsRef<[u8]>,
        unit: GeoUnit,
    ) -> Result<Option<f64>, Error> {
        let (key, a, b) = (key.as_ref(), a.as_ref(), b.as_ref());
        self.read(key_slot(key), &[key], |t, now| geo::geodist(t, now, key, a, b, unit.meters()))?
    }

    /// `GEOSEARCH key FROM... BY... ASC [COUNT count]`: the members inside the area, nearest
    /// first, with their distance (in the area's unit) and position.
    ///
    /// # Errors
    /// `ERR could not decode requested zset member` if the center member is missing;
    /// Redis's errors for a position out of range or a negative size; `WRONGTYPE`.
    pub fn geosearch(
        &self,
        key: impl AsRef<[u8]>,
        from: &GeoFrom,
        by: GeoBy,
        count: Option<usize>,
    ) -> Result<Vec<GeoMatch>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| geo::geosearch(t, now, key, from, by, count))?
    }
}
