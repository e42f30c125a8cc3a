//! The generated business customers: firmographics drawn per industry and region, and a
//! plausible name.

use revenue_core::rng::Rng;

/// A generated business customer.
#[derive(Debug, Clone)]
pub struct Company {
    pub id: String,
    pub name: String,
    pub industry: &'static str,
    pub employees: u32,
    pub region: &'static str,
    pub revenue_meur: f64,
}

const INDUSTRIES: [(&str, f64, f64, [&str; 3]); 8] = [
    // name, weight, revenue per employee (MEUR), name words
    ("logistics", 0.12, 0.18, ["Logistics", "Freight", "Transport"]),
    (
        "manufacturing",
        0.20,
        0.25,
        ["Industries", "Manufacturing", "Components"],
    ),
    ("retail", 0.12, 0.20, ["Retail", "Stores", "Markets"]),
    ("healthcare", 0.09, 0.12, ["Health", "Medical", "Care"]),
    (
        "public sector",
        0.07,
        0.08,
        ["Public Services", "Municipal Works", "Agency"],
    ),
    ("IT services", 0.14, 0.15, ["IT", "Systems", "Digital"]),
    ("energy", 0.08, 0.60, ["Energy", "Power", "Utilities"]),
    ("wholesale", 0.18, 0.50, ["Trading", "Wholesale", "Supply"]),
];

const REGIONS: [(&str, f64, [&str; 3]); 6] = [
    ("DACH", 0.34, ["GmbH", "AG", "GmbH & Co. KG"]),
    ("Nordics", 0.14, ["AB", "AS", "Oy"]),
    ("Benelux", 0.14, ["B.V.", "N.V.", "B.V."]),
    ("UK", 0.16, ["Ltd", "plc", "Ltd"]),
    ("France", 0.12, ["SAS", "SA", "SARL"]),
    ("Iberia", 0.10, ["S.L.", "S.A.", "S.L."]),
];

const NAME_HEADS: [&str; 24] = [
    "Alp", "Bel", "Bright", "Cor", "Del", "Ever", "Fal", "Gran", "Hel", "Iron", "Kest", "Lum", "Mar", "Nor", "Oak",
    "Pol", "Quan", "Rhe", "Sil", "Ter", "Ul", "Ver", "Wes", "Zen",
];
const NAME_TAILS: [&str; 16] = [
    "a", "ex", "ion", "is", "on", "ora", "tek", "ver", "wick", "dal", "berg", "field", "stone", "line", "mark", "gate",
];

pub(super) fn company(rng: &mut Rng, index: u32) -> Company {
    let industry = INDUSTRIES[rng.weighted(&INDUSTRIES.map(|i| i.1))];
    let region = REGIONS[rng.weighted(&REGIONS.map(|r| r.1))];
    // skewed towards small companies: median about 55 employees, a few with thousands
    let employees = (5.0 * 1000f64.powf(rng.f64().powf(1.5))).round().clamp(5.0, 5000.0) as u32;
    let revenue = f64::from(employees) * industry.2 * (0.35 * rng.gaussian()).exp();
    let stem = format!("{}{}", rng.pick(&NAME_HEADS), rng.pick(&NAME_TAILS));
    let word = rng.pick(&industry.3);
    let name = if industry.0 == "public sector" {
        format!("{stem} {word}")
    } else {
        format!("{stem} {word} {}", rng.pick(&region.2))
    };
    Company {
        id: format!("c-{:05}", index + 1),
        name,
        industry: industry.0,
        employees,
        region: region.0,
        revenue_meur: (revenue.max(0.1) * 100.0).round() / 100.0,
    }
}

/// The IANA time zone of a region's companies (quiet hours are local).
pub(super) fn timezone(region: &str) -> &'static str {
    match region {
        "Nordics" => "Europe/Stockholm",
        "Benelux" => "Europe/Amsterdam",
        "UK" => "Europe/London",
        "France" => "Europe/Paris",
        "Iberia" => "Europe/Madrid",
        _ => "Europe/Berlin",
    }
}
