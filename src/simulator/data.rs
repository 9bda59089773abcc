//! Building blocks of the deterministic data: a stateless hash, picking from
//! word lists, fixed-base timestamps and id parsing.
//!
//! Every generated value is a pure function of the id it belongs to (and a
//! per-field salt), so the same id gives the same data in every run and on
//! every machine: no RNG state, no wall clock. The services' own files say
//! what they generate from these.

/// Users are `u-1` to `u-1000`.
pub(crate) const USERS: u32 = 1000;
/// Products are `p-1` to `p-10000`.
pub(crate) const PRODUCTS: u32 = 10_000;
/// 2024-01-01T00:00:00Z in Unix seconds: generated times are offsets from it.
pub(crate) const BASE_TIME: i64 = 1_704_067_200;
/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// The SplitMix64 finaliser: cheap, and every input bit moves every output bit.
const fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A hash of some numbers, e.g. `hash(&[SALT_NAME, user])`. Callers use a
/// distinct salt per field so that fields of one id are independent.
pub(crate) fn hash(parts: &[u64]) -> u64 {
    parts.iter().fold(0x243F_6A88_85A3_08D3, |acc, part| mix(acc ^ part))
}

/// A number in `lo..=hi` taken from `h`.
pub(crate) fn between(h: u64, lo: u64, hi: u64) -> u64 {
    lo + h % (hi - lo + 1)
}

/// An item of a non-empty constant list, taken from `h`.
pub(crate) fn pick<T: Copy>(h: u64, items: &[T]) -> T {
    items[(h % items.len() as u64) as usize]
}

/// A product number in `1..=PRODUCTS`, taken from `h`.
pub(crate) fn product_from(h: u64) -> u32 {
    between(h, 1, u64::from(PRODUCTS)) as u32
}

/// The number in an id such as `u-42` when it has this prefix, is written
/// canonically (no sign, no leading zero) and lies in `1..=max`.
pub(crate) fn parse_id(id: &str, prefix: &str, max: u32) -> Option<u32> {
    let digits = id.strip_prefix(prefix)?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|n| (1..=max).contains(n))
}

/// `secs` (Unix seconds) as an RFC 3339 UTC string such as `2024-01-01T00:00:00Z`.
pub(crate) fn rfc3339(secs: i64) -> String {
    let (year, month, day) = civil_from_days(secs.div_euclid(DAY));
    let rem = secs.rem_euclid(DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month and day of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`, exact for the proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(BASE_TIME), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
        assert_eq!(rfc3339(BASE_TIME + 59 * DAY + 86_399), "2024-02-29T23:59:59Z");
    }

    #[test]
    fn only_canonical_ids_in_range_parse() {
        assert_eq!(parse_id("u-1", "u-", USERS), Some(1));
        assert_eq!(parse_id("u-1000", "u-", USERS), Some(1000));
        for bad in [
            "u-0",
            "u-1001",
            "u-01",
            "u-",
            "u-+1",
            "u--1",
            "p-1",
            "u-1x",
            "u-99999999999",
        ] {
            assert_eq!(parse_id(bad, "u-", USERS), None, "{bad}");
        }
    }

    #[test]
    fn the_hash_is_stable_across_runs() {
        // A changed hash would silently change every generated record.
        assert_eq!(hash(&[1, 2, 3]), hash(&[1, 2, 3]));
        assert_ne!(hash(&[1, 2, 3]), hash(&[1, 3, 2]));
        assert_eq!(between(hash(&[7]), 3, 3), 3);
    }
}
