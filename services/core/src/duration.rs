//! Durations as written in use-case files: `500ms`, `90s`, `15m`, `12h`, `7d`, `2w`.

use std::fmt;

/// A positive span of event time, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(i64);

pub const DAY_MS: i64 = 86_400_000;

impl Span {
    pub fn from_millis(ms: i64) -> Self {
        Span(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses `<positive integer><unit>`, unit one of `ms`, `s`, `m`, `h`, `d`, `w`.
    pub fn parse(text: &str) -> Result<Span, String> {
        let text = text.trim();
        let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(digits_end);
        let hint = "write a positive whole number and a unit: ms, s, m, h, d or w (e.g. `14d`)";
        let number: i64 = number.parse().map_err(|_| format!("bad duration `{text}`: {hint}"))?;
        let unit_ms = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => DAY_MS,
            "w" => 7 * DAY_MS,
            _ => return Err(format!("bad duration `{text}`: unknown unit `{unit}`; {hint}")),
        };
        match number.checked_mul(unit_ms) {
            Some(ms) if ms > 0 => Ok(Span(ms)),
            Some(_) => Err(format!("bad duration `{text}`: must be greater than zero")),
            None => Err(format!("bad duration `{text}`: too long")),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        for (unit, size) in [
            ("w", 7 * DAY_MS),
            ("d", DAY_MS),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms % size == 0 {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(Span::parse("500ms").unwrap().millis(), 500);
        assert_eq!(Span::parse("90s").unwrap().millis(), 90_000);
        assert_eq!(Span::parse("15m").unwrap().millis(), 900_000);
        assert_eq!(Span::parse("12h").unwrap().millis(), 43_200_000);
        assert_eq!(Span::parse("14d").unwrap().millis(), 14 * DAY_MS);
        assert_eq!(Span::parse("2w").unwrap().millis(), 14 * DAY_MS);
    }

    #[test]
    fn refuses_bad_durations_with_a_hint() {
        for bad in ["", "d", "7", "7x", "-3d", "0d", "1.5d", "99999999999999999w"] {
            let err = Span::parse(bad).unwrap_err();
            assert!(err.starts_with("bad duration"), "{bad}: {err}");
        }
        assert!(Span::parse("7y").unwrap_err().contains("unknown unit `y`"));
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!(Span::parse("14d").unwrap().to_string(), "2w");
        assert_eq!(Span::parse("36h").unwrap().to_string(), "36h");
        assert_eq!(Span::parse("1500ms").unwrap().to_string(), "1500ms");
    }
}
