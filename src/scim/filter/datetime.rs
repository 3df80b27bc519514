//! RFC 3339 / xsd:dateTime parsing into an instant, so dateTime attributes compare by time
//! rather than by text (`2011-05-13T06:42:34+02:00` equals `2011-05-13T04:42:34Z`).

/// Seconds since the Unix epoch (UTC) and the nanoseconds within that second.
pub(crate) type Instant = (i64, u32);

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`; a missing offset is read as UTC.
pub(crate) fn parse(text: &str) -> Option<Instant> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = i64::from(c.digits(4)?);
    c.eat(b'-')?;
    let month = c.digits(2)?;
    c.eat(b'-')?;
    let day = c.digits(2)?;
    if !matches!(c.next()?, b'T' | b't' | b' ') {
        return None;
    }
    let hour = c.digits(2)?;
    c.eat(b':')?;
    let minute = c.digits(2)?;
    c.eat(b':')?;
    // A leap second (60) is read as the last second of the minute.
    let second = c.digits(2)?.min(59);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 {
        return None;
    }
    let nanos = c.fraction()?;
    let offset = c.offset()?;
    if c.pos != c.bytes.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset;
    Some((secs, nanos))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.pos).copied()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..n {
            let b = self.next()?;
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
        }
        Some(value)
    }

    /// Optional `.fraction`; digits past nanosecond precision are ignored.
    fn fraction(&mut self) -> Option<u32> {
        if self.bytes.get(self.pos) != Some(&b'.') {
            return Some(0);
        }
        self.pos += 1;
        let mut nanos = 0u32;
        let mut count = 0;
        while let Some(b) = self.bytes.get(self.pos).copied().filter(u8::is_ascii_digit) {
            if count < 9 {
                nanos = nanos * 10 + u32::from(b - b'0');
            }
            count += 1;
            self.pos += 1;
        }
        if count == 0 {
            return None;
        }
        for _ in count..9 {
            nanos *= 10;
        }
        Some(nanos)
    }

    /// The UTC offset in seconds: `Z`, `±HH:MM`, or nothing (UTC).
    fn offset(&mut self) -> Option<i64> {
        let sign = match self.bytes.get(self.pos) {
            None => return Some(0),
            Some(b'Z' | b'z') => {
                self.pos += 1;
                return Some(0);
            }
            Some(b'+') => 1,
            Some(b'-') => -1,
            Some(_) => return None,
        };
        self.pos += 1;
        let hours = self.digits(2)?;
        self.eat(b':')?;
        let minutes = self.digits(2)?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * i64::from(hours * 3600 + minutes * 60))
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_and_offsets_to_the_same_instant() {
        let z = parse("2011-05-13T04:42:34Z").unwrap();
        assert_eq!(z, (1_305_261_754, 0));
        assert_eq!(parse("2011-05-13T06:42:34+02:00"), Some(z));
        assert_eq!(parse("2011-05-12T23:42:34-05:00"), Some(z));
        assert_eq!(parse("2011-05-13t04:42:34z"), Some(z));
        assert_eq!(parse("2011-05-13T04:42:34"), Some(z));
    }

    #[test]
    fn fractions_and_epoch() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(parse("1970-01-01T00:00:00.5Z"), Some((0, 500_000_000)));
        assert_eq!(
            parse("1969-12-31T23:59:59.123456789123Z"),
            Some((-1, 123_456_789))
        );
        assert_eq!(parse("2000-02-29T00:00:00Z"), Some((951_782_400, 0)));
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "2011-05-13",
            "2011-13-01T00:00:00Z",
            "2011-02-29T00:00:00Z",
            "2011-05-13T24:00:00Z",
            "2011-05-13T04:42:34.Z",
            "2011-05-13T04:42:34+0200",
            "2011-05-13T04:42:34Zjunk",
            "11-05-13T04:42:34Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
