//! What a shift's GPS trail means: how far, where the technician stopped, and
//! the trail as GeoJSON or GPX 1.1.

use chrono::{DateTime, Duration, Utc};
use geo::{Distance, Euclidean, Geodesic, Haversine, Line, Point};

/// One accepted position, in time order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    pub at: DateTime<Utc>,
    pub lat: f64,
    pub lon: f64,
}

/// A place where the technician stayed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stop {
    pub lat: f64,
    pub lon: f64,
    pub arrived_at: DateTime<Utc>,
    pub left_at: DateTime<Utc>,
}

fn point(fix: &Fix) -> Point {
    Point::new(fix.lon, fix.lat)
}

/// Metres between two positions on the WGS 84 ellipsoid (Karney's method).
pub fn metres_between(a: &Fix, b: &Fix) -> f64 {
    Geodesic.distance(point(a), point(b))
}

/// Length of the trail in metres, along the ellipsoid. Folded from 0.0: a sum
/// of no floats is -0.0, which PostgreSQL keeps and shows as "-0".
pub fn distance_m(fixes: &[Fix]) -> f64 {
    walk_on(None, fixes).map_or(0.0, |walked| walked.metres)
}

/// A trail walked up to a fix: its length in metres so far and that fix, all
/// walking on from there needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Walked {
    pub metres: f64,
    pub last: Fix,
}

/// `so_far` walked on through `fixes`, the trail's next fixes in time order
/// (`None` starts at the first of them). Each step is added to the total in
/// turn, so a trail walked in parts has, to the last bit, the length
/// `distance_m` gives it walked whole.
pub fn walk_on(so_far: Option<Walked>, fixes: &[Fix]) -> Option<Walked> {
    fixes.iter().fold(so_far, |walked, fix| {
        Some(Walked {
            metres: walked.map_or(0.0, |w| w.metres + metres_between(&w.last, fix)),
            last: *fix,
        })
    })
}

/// Places where the trail stayed within `radius_m` of where it arrived for at
/// least `min_stay`. The radius test is on the sphere (haversine): within tens
/// of metres it differs from the ellipsoid by centimetres, and it is many
/// times cheaper than Karney's method for the many comparisons a long trail needs.
pub fn stops(fixes: &[Fix], radius_m: f64, min_stay: Duration) -> Vec<Stop> {
    let mut stops = Vec::new();
    let mut start = 0;
    while start < fixes.len() {
        let anchor = &fixes[start];
        let mut end = start;
        while end + 1 < fixes.len()
            && Haversine.distance(point(anchor), point(&fixes[end + 1])) <= radius_m
        {
            end += 1;
        }
        let (first, last) = (&fixes[start], &fixes[end]);
        if last.at - first.at >= min_stay {
            let count = (end - start + 1) as f64;
            let (lat, lon) = fixes[start..=end]
                .iter()
                .fold((0.0, 0.0), |(lat, lon), f| (lat + f.lat, lon + f.lon));
            stops.push(Stop {
                lat: lat / count,
                lon: lon / count,
                arrived_at: first.at,
                left_at: last.at,
            });
            start = end + 1;
        } else {
            start += 1;
        }
    }
    stops
}

/// When the trail first came within `radius_m` of `place` and when it next
/// left, merged with what was known before (`arrived`, `departed`): a batch of
/// late-uploaded fixes can move the arrival earlier, never later.
pub fn visit(
    fixes: &[Fix],
    place: (f64, f64),
    radius_m: f64,
    arrived: Option<DateTime<Utc>>,
    departed: Option<DateTime<Utc>>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let spot = Fix {
        at: DateTime::<Utc>::MIN_UTC,
        lat: place.0,
        lon: place.1,
    };
    let near = |f: &Fix| metres_between(f, &spot) <= radius_m;
    let first_near = fixes.iter().filter(|f| near(f)).map(|f| f.at).min();
    let arrived = match (arrived, first_near) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let departed = departed.or_else(|| {
        let since = arrived?;
        fixes
            .iter()
            .filter(|f| f.at > since && !near(f))
            .map(|f| f.at)
            .min()
    });
    (arrived, departed)
}

/// The trail with the fixes a drawing would not show left out: those within
/// `tolerance_deg` of the line through the others (Ramer-Douglas-Peucker, in
/// plain degrees), then evenly thinned to at most `at_most` fixes. The first
/// and last are kept. geo's `SimplifyIdx` recurses once per kept point and
/// overflows the stack on long zigzag trails, so the splits wait on a list here;
/// and as a zigzag costs the square of its length, a trail longer than eight
/// times `at_most` is thinned evenly first.
pub fn simplified(fixes: &[Fix], tolerance_deg: f64, at_most: usize) -> Vec<Fix> {
    let fixes = evenly(fixes.to_vec(), at_most.saturating_mul(8));
    if fixes.len() <= 2 {
        return fixes;
    }
    let mut keep = vec![false; fixes.len()];
    keep[0] = true;
    keep[fixes.len() - 1] = true;
    let mut pending = vec![(0, fixes.len() - 1)];
    while let Some((first, last)) = pending.pop() {
        let chord = Line::new(point(&fixes[first]), point(&fixes[last]));
        let farthest = (first + 1..last)
            .map(|i| (i, Euclidean.distance(&point(&fixes[i]), &chord)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, _)) = farthest.filter(|(_, off)| *off > tolerance_deg) {
            keep[i] = true;
            pending.push((first, i));
            pending.push((i, last));
        }
    }
    let kept = fixes
        .iter()
        .zip(keep)
        .filter_map(|(fix, keep)| keep.then_some(*fix))
        .collect();
    evenly(kept, at_most)
}

/// At most `at_most` of `fixes`, evenly spread, the first and last kept.
fn evenly(fixes: Vec<Fix>, at_most: usize) -> Vec<Fix> {
    let slots = at_most.max(2) - 1;
    if fixes.len() <= slots + 1 {
        return fixes;
    }
    let last = fixes.len() - 1;
    (0..=slots).map(|slot| fixes[slot * last / slots]).collect()
}

/// The trail as a GeoJSON Feature with a LineString (positions `[lon, lat]`)
/// and the given properties.
pub fn geojson_feature(
    fixes: &[Fix],
    properties: serde_json::Map<String, serde_json::Value>,
) -> geojson::Feature {
    let coordinates: Vec<geojson::Position> = fixes
        .iter()
        .map(|f| geojson::Position::from([f.lon, f.lat]))
        .collect();
    geojson::Feature {
        bbox: None,
        geometry: Some(geojson::Geometry::new(geojson::GeometryValue::LineString {
            coordinates,
        })),
        id: None,
        properties: Some(properties),
        foreign_members: None,
    }
}

/// The trail as a GPX 1.1 document with one track.
pub fn gpx(fixes: &[Fix], name: &str) -> Result<String, String> {
    let mut segment = gpx::TrackSegment::new();
    for fix in fixes {
        let mut waypoint = gpx::Waypoint::new(Point::new(fix.lon, fix.lat));
        let nanos = fix.at.timestamp_nanos_opt().unwrap_or_default();
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
            .map_err(|e| e.to_string())?;
        waypoint.time = Some(at.into());
        segment.points.push(waypoint);
    }
    let mut track = gpx::Track::new();
    track.name = Some(name.to_owned());
    track.segments.push(segment);
    let document = gpx::Gpx {
        version: gpx::GpxVersion::Gpx11,
        creator: Some("fieldcrm".to_owned()),
        tracks: vec![track],
        ..Default::default()
    };
    let mut out = Vec::new();
    gpx::write(&document, &mut out).map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(minute: i64, lat: f64, lon: f64) -> Fix {
        Fix {
            at: DateTime::from_timestamp(1_700_000_000 + minute * 60, 0).unwrap(),
            lat,
            lon,
        }
    }

    #[test]
    fn a_degree_of_latitude_at_the_equator_is_about_110_6_km() {
        let d = distance_m(&[fix(0, 0.0, 0.0), fix(1, 1.0, 0.0)]);
        assert!((d - 110_574.0).abs() < 5.0, "{d}");
        assert_eq!(distance_m(&[fix(0, 1.0, 1.0)]), 0.0);
        assert!(distance_m(&[]).is_sign_positive(), "0, not -0");
    }

    #[test]
    fn a_trail_walked_on_in_parts_has_the_length_of_the_trail_walked_whole() {
        let trail: Vec<Fix> = (0..500)
            .map(|m| fix(m, 30.0 + (m % 7) as f64 * 1e-3, -97.0 + m as f64 * 1e-4))
            .collect();
        let whole = distance_m(&trail);
        let mut walked = None;
        for part in [
            &trail[..1],
            &trail[1..2],
            &trail[2..2],
            &trail[2..317],
            &trail[317..],
        ] {
            walked = walk_on(walked, part);
        }
        let walked = walked.unwrap();
        assert_eq!(walked.metres.to_bits(), whole.to_bits(), "the same sum");
        assert_eq!(walked.last, trail[499]);
        assert_eq!(walk_on(None, &[]), None);
        assert_eq!(walk_on(None, &trail[..1]).unwrap().metres, 0.0);
    }

    #[test]
    fn a_stay_of_five_minutes_within_fifty_metres_is_a_stop() {
        let trail = [
            fix(0, 30.0, -97.0),
            fix(1, 30.01, -97.0),
            fix(2, 30.01001, -97.0),
            fix(8, 30.01002, -97.00001),
            fix(9, 30.02, -97.0),
            fix(10, 30.02001, -97.0),
        ];
        let found = stops(&trail, 50.0, Duration::minutes(5));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].arrived_at, trail[1].at);
        assert_eq!(found[0].left_at, trail[3].at);
    }

    #[test]
    fn a_visit_starts_at_the_first_fix_near_the_place_and_ends_at_the_first_away() {
        let place = (30.0, -97.0);
        let trail = [
            fix(0, 30.05, -97.0),
            fix(10, 30.0005, -97.0),
            fix(20, 30.0, -97.0005),
            fix(30, 30.05, -97.0),
        ];
        let (arrived, departed) = visit(&trail, place, 150.0, None, None);
        assert_eq!(arrived, Some(trail[1].at));
        assert_eq!(departed, Some(trail[3].at));
        // A late fix from earlier moves the arrival back; departure stays.
        let (earlier, kept) = visit(&[fix(5, 30.0, -97.0)], place, 150.0, arrived, departed);
        assert_eq!(earlier, Some(fix(5, 0.0, 0.0).at));
        assert_eq!(kept, departed);
        assert_eq!(visit(&[trail[0]], place, 150.0, None, None), (None, None));
    }

    #[test]
    fn a_simplified_trail_drops_points_on_the_line_and_keeps_at_most_the_limit() {
        let straight: Vec<Fix> = (0..100)
            .map(|m| fix(m, 30.0 + m as f64 * 1e-4, -97.0))
            .collect();
        let kept = simplified(&straight, 1e-6, 2_000);
        assert_eq!(kept, vec![straight[0], straight[99]]);

        let zigzag: Vec<Fix> = (0..3_000)
            .map(|m| fix(m, 30.0 + (m % 2) as f64 * 0.01, -97.0 + m as f64 * 1e-4))
            .collect();
        let kept = simplified(&zigzag, 1e-6, 200);
        assert_eq!(kept.len(), 200);
        assert_eq!((kept[0], kept[199]), (zigzag[0], zigzag[2_999]));
        assert!(kept.windows(2).all(|pair| pair[0].at < pair[1].at));
    }

    #[test]
    fn gpx_is_a_valid_document_with_the_points() {
        let text = gpx(&[fix(0, 30.0, -97.0), fix(1, 30.001, -97.001)], "shift").unwrap();
        let parsed = ::gpx::read(text.as_bytes()).unwrap();
        assert_eq!(parsed.version, ::gpx::GpxVersion::Gpx11);
        assert_eq!(parsed.tracks[0].segments[0].points.len(), 2);
    }
}
