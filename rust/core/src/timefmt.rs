//! UTC formatting of epoch microseconds without a time-zone database.

/// Civil date (year, month, day) from days since 1970-01-01 (H. Hinnant's
/// algorithm; valid for the whole i64 range REM can store).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` of an epoch-microsecond instant, UTC.
pub fn date(us: i64) -> String {
    let (y, m, d) = civil_from_days(day(us));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Append `HH:MM` (UTC) of an epoch-microsecond instant to `out`, without `fmt`.
pub fn push_hm(out: &mut String, us: i64) {
    let secs = us.div_euclid(1_000_000).rem_euclid(86_400);
    let (h, m) = ((secs / 3600) as u8, ((secs % 3600) / 60) as u8);
    for d in [b'0' + h / 10, b'0' + h % 10, b':', b'0' + m / 10, b'0' + m % 10] {
        out.push(d as char);
    }
}

/// `HH:MM` of an epoch-microsecond instant, UTC.
pub fn hm(us: i64) -> String {
    let mut s = String::with_capacity(5);
    push_hm(&mut s, us);
    s
}

/// Day number (days since epoch, UTC) of an instant.
pub fn day(us: i64) -> i64 {
    us.div_euclid(1_000_000).div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(hm(0), "00:00");
        // 2025-11-16T09:05:00Z
        let t = 1_763_283_900_000_000i64;
        assert_eq!(date(t), "2025-11-16");
        assert_eq!(hm(t), "09:05");
        // before the epoch
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(hm(-1), "23:59");
        // 1900 and 2200
        assert_eq!(date(-2_208_988_800_000_000), "1900-01-01");
        assert_eq!(date(7_258_118_400_000_000), "2200-01-01");
    }
}
