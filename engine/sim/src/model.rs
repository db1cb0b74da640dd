//! The numbers and random draws behind the simulation: the demand curves, a small seeded
//! random number generator, Poisson draws and fake contact details.
//!
//! Everything here is a pure function of its inputs. The generator is written out (SplitMix64)
//! rather than taken from `rand`, whose `StdRng` may change its algorithm between releases:
//! a recorded demo must replay identically after a dependency update.

use chrono::Weekday;
use leadorch_domain::campaign::DayOfWeek;

/// Relative demand per local hour of day (0–23), 1.0 at the busiest hours.
///
/// Low at night (0.05), rising from 07:00, a peak from 10:00 to 14:00 (with a small lunch
/// dip at 12:00) and a secondary evening peak from 19:00 to 21:00. The 24 values add up to
/// 12.83 "peak hours" a day.
pub const HOUR_CURVE: [f64; 24] = [
    0.05, 0.05, 0.05, 0.05, 0.05, 0.08, 0.15, 0.35, // 00–07
    0.60, 0.85, 1.00, 1.00, 0.95, 1.00, 0.90, 0.80, // 08–15
    0.75, 0.70, 0.70, 0.80, 0.80, 0.65, 0.35, 0.15, // 16–23
];

/// Relative demand at a local hour of day; hours past 23 wrap around.
pub fn hour_curve(hour: u32) -> f64 {
    HOUR_CURVE[(hour % 24) as usize]
}

/// Relative demand per day of the week: 1.0 on Monday and Tuesday, 0.95 midweek, 0.85 on
/// Friday, 0.6 on Saturday and 0.65 on Sunday.
pub fn weekday_factor(day: DayOfWeek) -> f64 {
    match day {
        DayOfWeek::Monday | DayOfWeek::Tuesday => 1.0,
        DayOfWeek::Wednesday | DayOfWeek::Thursday => 0.95,
        DayOfWeek::Friday => 0.85,
        DayOfWeek::Saturday => 0.6,
        DayOfWeek::Sunday => 0.65,
    }
}

/// The domain's day of the week for a chrono weekday.
pub fn day_of_week(weekday: Weekday) -> DayOfWeek {
    match weekday {
        Weekday::Mon => DayOfWeek::Monday,
        Weekday::Tue => DayOfWeek::Tuesday,
        Weekday::Wed => DayOfWeek::Wednesday,
        Weekday::Thu => DayOfWeek::Thursday,
        Weekday::Fri => DayOfWeek::Friday,
        Weekday::Sat => DayOfWeek::Saturday,
        Weekday::Sun => DayOfWeek::Sunday,
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast and good enough for a simulation.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator for one stream (a campaign) in one minute, so that a campaign's draws in a
    /// minute do not depend on what any campaign did before: pausing one campaign leaves the
    /// clicks of every other campaign (and its own later clicks) unchanged.
    pub(crate) fn for_minute(seed: u64, stream: u64, minute: i64) -> Rng {
        let stream_seed = Rng(seed ^ stream.rotate_left(17)).next_u64();
        // Reinterpreting the minute's bits is intended: only distinctness matters.
        Rng(Rng(stream_seed ^ minute as u64).next_u64())
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A Poisson draw with mean `lambda` (Knuth's multiplication method; means above 30 are
    /// drawn as a sum of smaller draws, which is exact and keeps `exp(-lambda)` far from
    /// underflow). Non-positive or non-finite means draw 0.
    pub(crate) fn poisson(&mut self, lambda: f64) -> u64 {
        const CHUNK: f64 = 30.0;
        if !lambda.is_finite() || lambda <= 0.0 {
            return 0;
        }
        let mut remaining = lambda;
        let mut total = 0;
        while remaining > 0.0 {
            let part = remaining.min(CHUNK);
            remaining -= part;
            let limit = (-part).exp();
            let mut product = self.next_f64();
            while product > limit {
                total += 1;
                product *= self.next_f64();
            }
        }
        total
    }
}

/// FNV-1a: a stable hash of a string (unlike `std`'s randomly keyed hasher).
pub(crate) fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// A campaign's click-through rate, 4–6 %, fixed by its id.
pub(crate) fn click_through_rate(campaign_id: &str) -> f64 {
    let fraction = (stable_hash(campaign_id) % 1000) as f64 / 1000.0;
    0.04 + 0.02 * fraction
}

const FIRST_NAMES: [&str; 16] = [
    "Anna", "Bram", "Daan", "Emma", "Fleur", "Jesse", "Julia", "Lars", "Lotte", "Milan", "Noah",
    "Sanne", "Sem", "Tess", "Thijs", "Zoë",
];

const LAST_NAMES: [&str; 16] = [
    "Bakker", "Bos", "Claes", "Dekker", "Goossens", "Jansen", "Janssens", "Maes", "Meijer",
    "Mulder", "Peeters", "Smit", "Visser", "Vos", "Willems", "Wouters",
];

/// Fake, deterministic contact details of the `number`th lead: a name from a short list, an
/// address at `example.com` (reserved for documentation, so never anyone's inbox) that
/// contains the number, and a phone number `+31 6 55xx xxxx` built from the number.
/// Email addresses are unique; phone numbers for the first million leads.
pub(crate) fn fake_contact(seed: u64, number: u64) -> (String, String, String) {
    let pick = Rng(seed ^ number.wrapping_mul(0xA24B_AED4_963E_E407)).next_u64();
    let first = FIRST_NAMES[(pick % 16) as usize];
    let last = LAST_NAMES[((pick >> 8) % 16) as usize];
    let name = format!("{first} {last}");
    let local_first: String = first
        .chars()
        .map(|c| {
            if c == 'ë' {
                'e'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let email = format!(
        "{local_first}.{}.{number}@example.com",
        last.to_ascii_lowercase()
    );
    let digits = number % 1_000_000;
    let phone = format!("+31 6 55{:02} {:04}", digits / 10_000, digits % 10_000);
    (name, email, phone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_mean_is_close_to_lambda_for_small_and_large_means() {
        for lambda in [0.05, 0.7, 3.0, 75.0] {
            let n = 20_000;
            let total: u64 = (0..n)
                .map(|i| Rng::for_minute(7, 1, i).poisson(lambda))
                .sum();
            let mean = total as f64 / n as f64;
            assert!(
                (mean - lambda).abs() < 0.05 * lambda.max(1.0),
                "lambda {lambda}: mean {mean}"
            );
        }
        assert_eq!(Rng(1).poisson(0.0), 0);
        assert_eq!(Rng(1).poisson(f64::NAN), 0);
    }

    #[test]
    fn uniform_draws_stay_in_range_and_repeat_per_seed() {
        let mut a = Rng::for_minute(42, 3, 1_000);
        let mut b = Rng::for_minute(42, 3, 1_000);
        for _ in 0..1_000 {
            let x = a.next_f64();
            assert!((0.0..1.0).contains(&x));
            assert_eq!(x.to_bits(), b.next_f64().to_bits());
        }
        assert_ne!(
            Rng::for_minute(42, 3, 1_000).next_u64(),
            Rng::for_minute(42, 3, 1_001).next_u64()
        );
        assert_ne!(
            Rng::for_minute(42, 3, 1_000).next_u64(),
            Rng::for_minute(42, 4, 1_000).next_u64()
        );
    }

    #[test]
    fn curves_have_the_documented_shape() {
        assert!((HOUR_CURVE.iter().sum::<f64>() - 12.83).abs() < 1e-9);
        assert!(hour_curve(3) < 0.1);
        assert_eq!(hour_curve(11), 1.0);
        assert!(hour_curve(20) > hour_curve(17));
        assert_eq!(hour_curve(24), hour_curve(0));
        assert!(weekday_factor(DayOfWeek::Saturday) < weekday_factor(DayOfWeek::Friday));
    }

    #[test]
    fn click_through_rates_are_between_four_and_six_percent() {
        for id in ["1001", "1002", "x", ""] {
            let ctr = click_through_rate(id);
            assert!((0.04..0.06).contains(&ctr), "{id}: {ctr}");
            assert_eq!(ctr, click_through_rate(id));
        }
    }

    #[test]
    fn fake_contacts_are_clearly_fake_and_unique() {
        let (name, email, phone) = fake_contact(1, 42);
        assert!(name.contains(' '));
        assert!(
            email.ends_with(".42@example.com") && email.is_ascii(),
            "{email}"
        );
        assert_eq!(phone, "+31 6 5500 0042");
        assert_eq!(fake_contact(1, 42), (name, email.clone(), phone));
        assert_ne!(fake_contact(1, 43).1, email);
        assert_eq!(fake_contact(1, 123_456).2, "+31 6 5512 3456");
    }
}
