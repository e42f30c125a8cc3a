//! Realistic, deterministic synthetic B2B events for the reference use cases (`usecases/reference`):
//! the engine's one-command demo produces them to Kafka, tests replay them.
//!
//! Every company first sends a `company_profile`; then it behaves as one of a few segments:
//! - **dormant** (about a third): a newsletter open or a stray home page view now and then;
//! - **telecom customers** with 1–3 service contracts: *quiet* ones only read support pages and
//!   e-mails, *curious* ones look at a pricing page once (warm-up campaign), *hot* ones run a
//!   project: pricing pages, a webinar, e-mail clicks (telemarketing, and often an MQL);
//! - **distributor buyers** ordering from a catalogue of 300 products: *EDI* buyers only order,
//!   *returning* buyers browse a few products now and then (web and e-mail recommendations),
//!   *power* buyers browse intensively in project weeks (field-sales task); *prospects* browse
//!   without ever ordering;
//! - **marketing leads**: *cold* ones open e-mails, *warm* ones click and look at prices once,
//!   *hot* ones attend webinars and study prices (marketing-qualified).
//!
//! Activity comes in sessions of several page views, mostly on weekdays in business hours, spread
//! over the configured days. The same seed always gives the same events; the number of events is
//! exactly `SyntheticConfig::events`, with strictly increasing timestamps.

use std::fmt::Write as _;

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SyntheticConfig {
    pub seed: u64,
    pub companies: u32,
    /// Exactly this many events are generated (company profiles included).
    pub events: u64,
    /// Epoch milliseconds of the first possible event.
    pub start_ts: i64,
    /// Days the events cover: every timestamp is in `[start_ts, start_ts + days)`.
    pub days: u32,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            seed: 7,
            companies: 2_000,
            events: 30_000,
            start_ts: 1_793_491_200_000, // 2026-11-01T00:00:00Z
            days: 30,
        }
    }
}

/// Which input topic an event belongs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Web, e-mail and webinar interactions.
    Behaviour,
    /// Purchases, contracts and firmographics from the ERP / CRM.
    Transaction,
    /// Opt-ins and opt-outs from the consent management platform.
    Consent,
}

/// One generated event: the JSON object as it goes to Kafka, keyed by `customer_id`.
#[derive(Debug, Clone)]
pub struct SyntheticEvent {
    pub stream: Stream,
    pub customer_id: String,
    pub ts: i64,
    pub json: String,
}

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

/// Generates `config.events` events in time order; see the module documentation.
pub struct Generator {
    config: SyntheticConfig,
    companies: Vec<Company>,
    personas: Vec<Persona>,
    catalogue: Catalogue,
    events: Vec<Raw>,
    next: usize,
}

impl Generator {
    /// Plans all events up front (32 bytes each); JSON is rendered as the iterator goes.
    ///
    /// # Panics
    /// When `days` is 0, or `events` is not below half the milliseconds of the span (timestamps
    /// are distinct milliseconds, with room to spare).
    pub fn new(config: SyntheticConfig) -> Generator {
        let span = i64::from(config.days) * DAY;
        assert!(config.days > 0, "synthetic data needs at least one day");
        assert!(
            i64::try_from(config.events).is_ok_and(|n| n < span / 2),
            "{} events do not fit into {} day(s) with distinct timestamps",
            config.events,
            config.days
        );
        let catalogue = Catalogue::new();
        let mut rng = Rng::new(mix(config.seed, 0xC0));
        let companies: Vec<Company> = (0..config.companies).map(|i| company(&mut rng, i)).collect();
        let personas: Vec<Persona> = companies.iter().map(|_| persona(&mut rng)).collect();
        let events = plan(&config, &companies, &personas, &catalogue);
        Generator {
            config,
            companies,
            personas,
            catalogue,
            events,
            next: 0,
        }
    }

    pub fn companies(&self) -> &[Company] {
        &self.companies
    }

    /// The behaviour segment of `companies()[index]`, e.g. `telecom/hot` or `distributor/edi`.
    pub fn segment(&self, index: usize) -> &'static str {
        self.personas[index].label()
    }

    pub fn config(&self) -> &SyntheticConfig {
        &self.config
    }

    fn render(&self, raw: &Raw) -> SyntheticEvent {
        let company = &self.companies[raw.company as usize];
        let mut json = String::with_capacity(160);
        let (event_type, stream) = match raw.kind {
            Kind::Profile => ("company_profile", Stream::Transaction),
            Kind::Page(..) => ("page_view", Stream::Behaviour),
            Kind::EmailOpen(_) => ("email_open", Stream::Behaviour),
            Kind::EmailClick(..) => ("email_click", Stream::Behaviour),
            Kind::Webinar(_) => ("webinar", Stream::Behaviour),
            Kind::Purchase(..) => ("purchase", Stream::Transaction),
            Kind::Contract(..) => ("contract", Stream::Transaction),
            Kind::Consent(true, _) => ("consent_given", Stream::Consent),
            Kind::Consent(false, _) => ("consent_withdrawn", Stream::Consent),
        };
        json.push_str("{\"customer_id\":");
        push_str_json(&mut json, &company.id);
        json.push_str(",\"type\":");
        push_str_json(&mut json, event_type);
        let _ = write!(json, ",\"ts\":{}", raw.ts);
        let string = |json: &mut String, key: &str, value: &str| {
            let _ = write!(json, ",\"{key}\":");
            push_str_json(json, value);
        };
        let money = |json: &mut String, key: &str, cents: i64| {
            let _ = write!(json, ",\"{key}\":{}.{:02}", cents / 100, cents % 100);
        };
        match raw.kind {
            Kind::Profile => {
                string(&mut json, "industry", company.industry);
                let _ = write!(json, ",\"employees\":{}", company.employees);
                let _ = write!(json, ",\"revenue_meur\":{:.2}", company.revenue_meur);
                string(&mut json, "region", company.region);
                string(&mut json, "timezone", timezone(company.region));
            }
            Kind::Consent(_, channel) => string(&mut json, "channel", CONSENT_CHANNELS[channel as usize]),
            Kind::Page(page, product) => {
                string(&mut json, "page", page.name());
                if product != NO_PRODUCT {
                    string(&mut json, "product", &product_id(product));
                }
            }
            Kind::EmailOpen(campaign) => string(&mut json, "campaign", CAMPAIGNS[campaign as usize]),
            Kind::EmailClick(campaign, product) => {
                string(&mut json, "campaign", CAMPAIGNS[campaign as usize]);
                if product != NO_PRODUCT {
                    string(&mut json, "product", &product_id(product));
                    money(
                        &mut json,
                        "amount",
                        self.catalogue.products[product as usize].price_cents(),
                    );
                }
            }
            Kind::Webinar(topic) => string(&mut json, "topic", TOPICS[topic as usize]),
            Kind::Purchase(product, cents) => {
                string(&mut json, "product", &product_id(product));
                money(&mut json, "amount", cents);
            }
            Kind::Contract(service, cents) => {
                string(&mut json, "service", SERVICES[service as usize].0);
                money(&mut json, "monthly_value", cents);
            }
        }
        json.push('}');
        SyntheticEvent {
            stream,
            customer_id: company.id.clone(),
            ts: raw.ts,
            json,
        }
    }
}

impl Iterator for Generator {
    type Item = SyntheticEvent;

    fn next(&mut self) -> Option<SyntheticEvent> {
        let raw = *self.events.get(self.next)?;
        self.next += 1;
        Some(self.render(&raw))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.events.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Generator {}

fn push_str_json(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn product_id(index: u16) -> String {
    format!("p-{:04}", u32::from(index) + 1)
}

// ---------------------------------------------------------------------------------------------
// randomness

/// SplitMix64: tiny, fast, and good enough for synthetic data.
#[derive(Debug, Clone)]
struct Rng(u64);

fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, n)`; 0 when `n` is 0.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[lo, hi)`; `lo` when the range is empty.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64) as i64
    }

    /// Uniform integer in `[lo, hi]`.
    fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(u64::from(hi.saturating_sub(lo)) + 1) as u32
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Log-uniform in `[lo, hi]`: as many values between 1 and 10 as between 100 and 1000.
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.f64()).exp()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn with the given relative weights.
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    fn gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn poisson(&mut self, mean: f64) -> u32 {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            return (mean + self.gaussian() * mean.sqrt()).round().max(0.0) as u32;
        }
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = self.f64();
        while p > limit {
            k += 1;
            p *= self.f64();
        }
        k
    }
}

// ---------------------------------------------------------------------------------------------
// companies

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

fn company(rng: &mut Rng, index: u32) -> Company {
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

/// How a company behaves; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persona {
    Dormant,
    TelecomQuiet,
    TelecomCurious,
    TelecomHot,
    DistributorEdi,
    DistributorReturning,
    DistributorPower,
    DistributorProspect,
    LeadCold,
    LeadWarm,
    LeadHot,
}

const PERSONAS: [(Persona, f64); 11] = [
    (Persona::Dormant, 0.34),
    (Persona::TelecomQuiet, 0.22 * 0.45),
    (Persona::TelecomCurious, 0.22 * 0.35),
    (Persona::TelecomHot, 0.22 * 0.20),
    (Persona::DistributorEdi, 0.24 * 0.30),
    (Persona::DistributorReturning, 0.24 * 0.50),
    (Persona::DistributorPower, 0.24 * 0.20),
    (Persona::DistributorProspect, 0.05),
    (Persona::LeadCold, 0.15 * 0.50),
    (Persona::LeadWarm, 0.15 * 0.30),
    (Persona::LeadHot, 0.15 * 0.20),
];

impl Persona {
    fn label(self) -> &'static str {
        match self {
            Persona::Dormant => "dormant",
            Persona::TelecomQuiet => "telecom/quiet",
            Persona::TelecomCurious => "telecom/curious",
            Persona::TelecomHot => "telecom/hot",
            Persona::DistributorEdi => "distributor/edi",
            Persona::DistributorReturning => "distributor/returning",
            Persona::DistributorPower => "distributor/power",
            Persona::DistributorProspect => "distributor/prospect",
            Persona::LeadCold => "lead/cold",
            Persona::LeadWarm => "lead/warm",
            Persona::LeadHot => "lead/hot",
        }
    }
}

fn persona(rng: &mut Rng) -> Persona {
    PERSONAS[rng.weighted(&PERSONAS.map(|p| p.1))].0
}

// ---------------------------------------------------------------------------------------------
// what is sold

/// Telecom services: name, weight among contracts.
const SERVICES: [(&str, f64); 5] = [
    ("mobile", 0.45),
    ("fixed-line", 0.25),
    ("cloud-pbx", 0.12),
    ("sd-wan", 0.10),
    ("iot", 0.08),
];

/// A product category of the distributor.
struct Category {
    products: u16,
    /// Unit price range in EUR.
    price: (f64, f64),
    /// Order quantity range.
    quantity: (f64, f64),
}

const fn category(products: u16, price: (f64, f64), quantity: (f64, f64)) -> Category {
    Category {
        products,
        price,
        quantity,
    }
}

const CATEGORIES: [Category; 10] = [
    category(60, (0.4, 35.0), (10.0, 2000.0)),   // semiconductors
    category(45, (0.02, 1.5), (100.0, 10000.0)), // passive components
    category(40, (0.1, 9.0), (50.0, 2000.0)),    // connectors
    category(30, (1.5, 80.0), (5.0, 500.0)),     // sensors
    category(25, (8.0, 320.0), (1.0, 100.0)),    // power supplies
    category(20, (15.0, 420.0), (1.0, 60.0)),    // displays
    category(25, (25.0, 650.0), (1.0, 40.0)),    // embedded boards
    category(25, (1.0, 45.0), (10.0, 500.0)),    // cables
    category(10, (120.0, 4800.0), (1.0, 3.0)),   // test equipment
    category(20, (5.0, 250.0), (1.0, 20.0)),     // tools
];

const NO_PRODUCT: u16 = u16::MAX;

#[derive(Debug, Clone)]
struct Product {
    unit_price: f64,
    quantity: (f64, f64),
}

impl Product {
    fn price_cents(&self) -> i64 {
        (self.unit_price * 100.0).round().max(1.0) as i64
    }
}

/// The assortment: ~300 products, fixed for every seed, with popularity falling within each
/// category (a few best sellers, a long tail).
#[derive(Debug, Clone)]
struct Catalogue {
    products: Vec<Product>,
    by_category: Vec<Vec<u16>>,
    popularity: Vec<Vec<f64>>,
}

impl Catalogue {
    fn new() -> Catalogue {
        let mut rng = Rng::new(0x00C0_FFEE);
        let mut products = Vec::new();
        let mut by_category = Vec::new();
        let mut popularity = Vec::new();
        for Category {
            products: count,
            price,
            quantity,
        } in CATEGORIES
        {
            let mut ids = Vec::new();
            let mut weights = Vec::new();
            for rank in 0..count {
                ids.push(products.len() as u16);
                weights.push(1.0 / f64::from(rank + 1).powf(0.9));
                let unit = rng.log_uniform(price.0, price.1);
                let unit = if unit < 1.0 {
                    (unit * 1000.0).round() / 1000.0
                } else {
                    (unit * 100.0).round() / 100.0
                };
                products.push(Product {
                    unit_price: unit,
                    quantity,
                });
            }
            by_category.push(ids);
            popularity.push(weights);
        }
        Catalogue {
            products,
            by_category,
            popularity,
        }
    }

    fn category_weights(&self) -> Vec<f64> {
        self.by_category.iter().map(|c| c.len() as f64).collect()
    }

    fn popular_in(&self, rng: &mut Rng, category: usize) -> u16 {
        self.by_category[category][rng.weighted(&self.popularity[category])]
    }

    /// One order line: a plausible quantity (packs for small parts) at the unit price, in cents.
    fn order_line(&self, rng: &mut Rng, product: u16) -> i64 {
        let p = &self.products[product as usize];
        let mut quantity = rng.log_uniform(p.quantity.0, p.quantity.1).round().max(1.0);
        if quantity >= 1000.0 {
            quantity = (quantity / 100.0).round() * 100.0;
        } else if quantity >= 50.0 {
            quantity = (quantity / 10.0).round() * 10.0;
        }
        (quantity * p.unit_price * 100.0).round().max(1.0) as i64
    }
}

const CAMPAIGNS: [&str; 14] = [
    "monthly-newsletter",
    "event-invite",
    "telecom-business-update",
    "5g-for-business",
    "cloud-pbx-offer",
    "security-bulletin",
    "new-arrivals",
    "price-update",
    "recommended-for-you",
    "clearance-sale",
    "webinar-invite",
    "case-study",
    "buyers-guide",
    "free-trial",
];
const GENERIC_CAMPAIGNS: [u8; 2] = [0, 1];
const TELECOM_CAMPAIGNS: [u8; 4] = [2, 3, 4, 5];
const TELECOM_CROSS_SELL: [u8; 2] = [3, 4];
const DISTRIBUTOR_CAMPAIGNS: [u8; 4] = [6, 7, 8, 9];
const LEAD_CAMPAIGNS: [u8; 4] = [10, 11, 12, 13];

const TOPICS: [&str; 10] = [
    "5G campus networks",
    "SD-WAN migration",
    "Cloud PBX in practice",
    "IoT fleet tracking",
    "Secure remote work",
    "Sales automation in practice",
    "Revenue operations 101",
    "Data-driven pricing",
    "Supply chain resilience",
    "Energy-efficient electronics design",
];
const TELECOM_TOPICS: [u8; 5] = [0, 1, 2, 3, 4];
const LEAD_TOPICS: [u8; 5] = [5, 6, 7, 8, 9];

// ---------------------------------------------------------------------------------------------
// events

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Product,
    Pricing,
    Category,
    Support,
    Home,
}

impl Page {
    fn name(self) -> &'static str {
        match self {
            Page::Product => "product",
            Page::Pricing => "pricing",
            Page::Category => "category",
            Page::Support => "support",
            Page::Home => "home",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Profile,
    /// Page and product (or `NO_PRODUCT`).
    Page(Page, u16),
    EmailOpen(u8),
    /// Campaign and product (or `NO_PRODUCT`).
    EmailClick(u8, u16),
    Webinar(u8),
    /// Product and amount in cents.
    Purchase(u16, i64),
    /// Service and monthly value in cents.
    Contract(u8, i64),
    /// Consent given (true) or withdrawn, for a channel of `CONSENT_CHANNELS`.
    Consent(bool, u8),
}

/// Channels consent events name; `all` means every channel.
const CONSENT_CHANNELS: [&str; 3] = ["email", "telemarketing", "all"];

/// The IANA time zone of a region's companies (quiet hours are local).
fn timezone(region: &str) -> &'static str {
    match region {
        "Nordics" => "Europe/Stockholm",
        "Benelux" => "Europe/Amsterdam",
        "UK" => "Europe/London",
        "France" => "Europe/Paris",
        "Iberia" => "Europe/Madrid",
        _ => "Europe/Berlin",
    }
}

/// A planned event; `seq` orders a company's events that share a timestamp.
#[derive(Debug, Clone, Copy)]
struct Raw {
    ts: i64,
    company: u32,
    seq: u32,
    kind: Kind,
}

/// Plans every event: profiles, then each company's behaviour at a scale that fills the budget,
/// then exactly the configured count (newsletter opens fill up, random drops trim), in time order.
fn plan(config: &SyntheticConfig, companies: &[Company], personas: &[Persona], catalogue: &Catalogue) -> Vec<Raw> {
    let total = config.events as usize;
    let start = config.start_ts;
    // raw times stay below `hi`, so making them strictly increasing cannot leave the span
    let hi = start + i64::from(config.days) * DAY - total as i64;
    let active = companies.len().min(total);
    let budget = total - active;
    let profile_ts: Vec<i64> = (0..active)
        .map(|i| {
            let mut rng = Rng::new(mix(config.seed, 0x1_0000_0000 + i as u64));
            start + rng.range(0, (12 * HOUR).min((hi - start) / 4))
        })
        .collect();
    let behave = |scale: f64| {
        let mut out = Vec::with_capacity(budget + budget / 8);
        for (i, &at) in profile_ts.iter().enumerate() {
            let mut planner = Planner {
                rng: Rng::new(mix(config.seed, 0x2_0000_0000 + i as u64)),
                company: i as u32,
                seq: 1,
                lo: at + 10 * MINUTE,
                hi,
                scale,
                out: &mut out,
                catalogue,
                employees: companies[i].employees,
            };
            planner.behave(personas[i]);
        }
        out
    };
    let mut events = if budget == 0 {
        Vec::new()
    } else {
        // calibrate: behaviour at scale 1, then scaled so that about 97 % of the budget is
        // behaviour and the rest newsletter opens and home page visits
        let natural = behave(1.0).len();
        let scale = if natural == 0 {
            1.0
        } else {
            0.97 * budget as f64 / natural as f64
        };
        behave(scale)
    };
    let mut rng = Rng::new(mix(config.seed, 0xF1));
    if events.len() > budget {
        // drop random events (a partial Fisher-Yates shuffle picks which)
        let excess = events.len() - budget;
        for k in 0..excess {
            let j = k + rng.below((events.len() - k) as u64) as usize;
            events.swap(k, j);
        }
        events.drain(..excess);
    }
    let mut seq = u32::MAX / 2;
    while events.len() < budget {
        let company = rng.below(active as u64) as usize;
        let ts = business_time(&mut rng, profile_ts[company] + 10 * MINUTE, hi);
        let kind = if rng.chance(0.7) {
            Kind::EmailOpen(rng.pick(&GENERIC_CAMPAIGNS))
        } else {
            Kind::Page(Page::Home, NO_PRODUCT)
        };
        events.push(Raw {
            ts,
            company: company as u32,
            seq,
            kind,
        });
        seq += 1;
    }
    events.extend(profile_ts.iter().enumerate().map(|(i, &ts)| Raw {
        ts,
        company: i as u32,
        seq: 0,
        kind: Kind::Profile,
    }));
    consent_decisions(config, &mut events);
    events.sort_unstable_by_key(|r| (r.ts, r.company, r.seq));
    let mut last = i64::MIN;
    for r in &mut events {
        r.ts = r.ts.max(last.saturating_add(1));
        last = r.ts;
    }
    events
}

/// About 5 % of the companies manage their consent: their first newsletter open becomes an
/// opt-out (of e-mail, telemarketing or everything) or a telemarketing opt-in. Replacing an
/// event keeps the count exact and every other event as it was.
fn consent_decisions(config: &SyntheticConfig, events: &mut [Raw]) {
    let mut decided = rustc_hash::FxHashSet::default();
    for raw in events.iter_mut() {
        if !matches!(raw.kind, Kind::EmailOpen(_)) || !decided.insert(raw.company) {
            continue;
        }
        let mut rng = Rng::new(mix(config.seed, 0x3_0000_0000 + u64::from(raw.company)));
        if rng.chance(0.05) {
            let given = rng.chance(0.3);
            raw.kind = Kind::Consent(given, if given { 1 } else { rng.below(3) as u8 });
        }
    }
}

/// A time in `[lo, hi)`, mostly on weekdays in (central European) business hours.
fn business_time(rng: &mut Rng, lo: i64, hi: i64) -> i64 {
    let mut t = lo;
    for _ in 0..8 {
        t = rng.range(lo, hi);
        let hour = t.rem_euclid(DAY) / HOUR; // UTC
        let weekday = (t.div_euclid(DAY) + 3).rem_euclid(7); // 0 = Monday (1970-01-01 was a Thursday)
        if (weekday < 5 && (6..17).contains(&hour)) || rng.chance(0.1) {
            return t;
        }
    }
    t
}

/// Writes one company's behaviour.
struct Planner<'a> {
    rng: Rng,
    company: u32,
    seq: u32,
    /// Earliest time of the company's activity (after its profile).
    lo: i64,
    hi: i64,
    /// Multiplies the mean number of sessions, orders and e-mails.
    scale: f64,
    out: &'a mut Vec<Raw>,
    catalogue: &'a Catalogue,
    employees: u32,
}

impl Planner<'_> {
    fn push(&mut self, ts: i64, kind: Kind) {
        self.out.push(Raw {
            ts: ts.clamp(self.lo, self.hi - 1),
            company: self.company,
            seq: self.seq,
            kind,
        });
        self.seq += 1;
    }

    /// A scaled random count with the given mean.
    fn n(&mut self, mean: f64) -> u32 {
        self.rng.poisson(mean * self.scale)
    }

    fn when(&mut self, lo: i64, hi: i64) -> i64 {
        business_time(&mut self.rng, lo.max(self.lo), hi.min(self.hi))
    }

    fn anytime(&mut self) -> i64 {
        self.when(self.lo, self.hi)
    }

    /// A window of `days` days somewhere in the span: a buying project.
    fn project(&mut self, days: i64) -> (i64, i64) {
        let length = (days * DAY).min((self.hi - self.lo) / 2);
        let from = self.rng.range(self.lo + DAY.min(length), self.hi - length);
        (from, from + length)
    }

    /// Time between two page views of one session.
    fn think(&mut self) -> i64 {
        self.rng.log_uniform(6.0, 180.0) as i64 * SECOND
    }

    /// A session of page views starting at `at`; returns when it ended.
    fn session(&mut self, at: i64, pages: &[(Page, u16)]) -> i64 {
        let mut t = at;
        for &(page, product) in pages {
            self.push(t, Kind::Page(page, product));
            t += self.think();
        }
        t
    }

    /// `count` sessions of 1–`max` pages without a buying signal (home, support, category).
    fn background(&mut self, count: u32, max: u32) {
        for _ in 0..count {
            let at = self.anytime();
            let length = self.rng.between(1, max);
            let pages: Vec<(Page, u16)> = (0..length)
                .map(|_| {
                    let page = [Page::Home, Page::Support, Page::Category][self.rng.weighted(&[0.45, 0.35, 0.2])];
                    (page, NO_PRODUCT)
                })
                .collect();
            self.session(at, &pages);
        }
    }

    /// `count` e-mail opens from `campaigns`; each is clicked with probability `click`.
    fn emails(&mut self, count: u32, campaigns: &[u8], click: f64, products: &[u16]) {
        for _ in 0..count {
            let at = self.anytime();
            self.email(at, campaigns, click, products);
        }
    }

    fn email(&mut self, at: i64, campaigns: &[u8], click: f64, products: &[u16]) {
        let campaign = self.rng.pick(campaigns);
        self.push(at, Kind::EmailOpen(campaign));
        if self.rng.chance(click) {
            let product = if products.is_empty() {
                NO_PRODUCT
            } else {
                self.rng.pick(products)
            };
            let delay = self.rng.log_uniform(5.0, 900.0) as i64 * SECOND;
            self.push(at + delay, Kind::EmailClick(campaign, product));
        }
    }

    fn contracts(&mut self) {
        let count = 1 + self.rng.weighted(&[0.5, 0.35, 0.15]);
        let mut weights = SERVICES.map(|s| s.1);
        let employees = f64::from(self.employees);
        for _ in 0..count {
            let service = self.rng.weighted(&weights);
            weights[service] = 0.0;
            let seats = (employees * self.rng.uniform(0.2, 0.8)).max(2.0).round();
            let monthly = match SERVICES[service].0 {
                "mobile" => seats * self.rng.uniform(18.0, 42.0),
                "fixed-line" => self.rng.uniform(60.0, 250.0) + employees * self.rng.uniform(0.3, 1.2),
                "cloud-pbx" => seats * self.rng.uniform(7.0, 14.0),
                "sd-wan" => (1.0 + employees / self.rng.uniform(40.0, 120.0)).round() * self.rng.uniform(180.0, 420.0),
                _ => self.rng.log_uniform(10.0, 500.0) * (1.0 + employees / 500.0) * self.rng.uniform(1.5, 6.0),
            };
            // signed or renewed in the first days: the CRM syncs the current contracts
            let at = self.lo + self.rng.range(0, 3 * DAY);
            self.push(at, Kind::Contract(service as u8, (monthly * 100.0).round() as i64));
        }
    }

    /// A few products the buyer keeps coming back to, from one or two categories.
    fn focus(&mut self, count: u32) -> (Vec<u16>, Vec<usize>) {
        let weights = self.catalogue.category_weights();
        let mut categories = vec![self.rng.weighted(&weights)];
        if self.rng.chance(0.4) {
            categories.push(self.rng.weighted(&weights));
        }
        let mut products = Vec::new();
        for _ in 0..count * 3 {
            if products.len() as u32 == count {
                break;
            }
            let category = self.rng.pick(&categories);
            let product = self.catalogue.popular_in(&mut self.rng, category);
            if !products.contains(&product) {
                products.push(product);
            }
        }
        (products, categories)
    }

    fn purchase(&mut self, at: i64, product: u16) {
        let cents = self.catalogue.order_line(&mut self.rng, product);
        self.push(at, Kind::Purchase(product, cents));
    }

    /// A product browsing session: maybe a home or category page, then `views` product pages
    /// mostly of the focus products.
    fn browse(&mut self, at: i64, views: u32, focus: &[u16], categories: &[usize]) {
        let mut pages = Vec::new();
        if self.rng.chance(0.6) {
            let entry = if self.rng.chance(0.5) {
                Page::Home
            } else {
                Page::Category
            };
            pages.push((entry, NO_PRODUCT));
        }
        for _ in 0..views {
            let product = if !focus.is_empty() && self.rng.chance(0.8) {
                self.rng.pick(focus)
            } else {
                let category = self.rng.pick(categories);
                self.catalogue.popular_in(&mut self.rng, category)
            };
            pages.push((Page::Product, product));
        }
        if self.rng.chance(0.15) {
            pages.push((Page::Support, NO_PRODUCT));
        }
        self.session(at, &pages);
    }

    /// A session that includes `pricing` views of the pricing page.
    fn pricing_session(&mut self, at: i64, pricing: u32) {
        let mut pages = vec![(Page::Home, NO_PRODUCT)];
        for _ in 0..pricing {
            pages.push((Page::Pricing, NO_PRODUCT));
            if self.rng.chance(0.5) {
                pages.push((Page::Category, NO_PRODUCT));
            }
        }
        self.session(at, &pages);
    }

    fn behave(&mut self, persona: Persona) {
        match persona {
            Persona::Dormant => {
                let opens = self.n(1.6);
                self.emails(opens, &GENERIC_CAMPAIGNS, 0.0, &[]);
                let visits = self.n(0.9);
                self.background(visits, 1);
            }
            Persona::TelecomQuiet | Persona::TelecomCurious | Persona::TelecomHot => {
                self.contracts();
                let opens = self.n(4.5);
                self.emails(opens, &TELECOM_CAMPAIGNS, 0.0, &[]);
                let visits = self.n(4.0);
                self.background(visits, 3);
                if persona == Persona::TelecomCurious {
                    // one look at the prices, sometimes a click on a cross-sell offer
                    let at = self.when(self.lo + 2 * DAY, self.hi);
                    let pricing = if self.rng.chance(0.35) { 2 } else { 1 };
                    self.pricing_session(at, pricing);
                    if self.rng.chance(0.5) {
                        let around = self.when(at - 3 * DAY, at + 3 * DAY);
                        self.email(around, &TELECOM_CROSS_SELL, 1.0, &[]);
                    }
                } else if persona == Persona::TelecomHot {
                    // a project: prices studied in several sessions, a webinar, offers clicked
                    let (from, to) = self.project(10);
                    let sessions = self.rng.between(2, 3) + self.n(0.5);
                    for _ in 0..sessions {
                        let at = self.when(from, to);
                        let pricing = self.rng.between(1, 2);
                        self.pricing_session(at, pricing);
                    }
                    let webinars = if self.rng.chance(0.4) { 2 } else { 1 };
                    for _ in 0..webinars {
                        let at = self.when(from, to);
                        let topic = self.rng.pick(&TELECOM_TOPICS);
                        self.push(at, Kind::Webinar(topic));
                    }
                    let clicks = 1 + self.n(1.0);
                    for _ in 0..clicks {
                        let at = self.when(from, to);
                        self.email(at, &TELECOM_CROSS_SELL, 1.0, &[]);
                    }
                }
            }
            Persona::DistributorEdi => {
                // orders come in by EDI; the web shop is hardly used
                let (focus, _) = self.focus(4);
                let orders = 1 + self.n(8.0);
                for _ in 0..orders {
                    let at = self.anytime();
                    let product = self.rng.pick(&focus);
                    self.purchase(at, product);
                }
                let opens = self.n(2.0);
                self.emails(opens, &DISTRIBUTOR_CAMPAIGNS, 0.0, &[]);
                let visits = self.n(1.0);
                self.background(visits, 2);
            }
            Persona::DistributorReturning | Persona::DistributorPower => {
                let power = persona == Persona::DistributorPower;
                let (focus, categories) = if power {
                    let count = self.rng.between(3, 6);
                    self.focus(count)
                } else {
                    let count = self.rng.between(2, 4);
                    self.focus(count)
                };
                // the last order before the browsing starts, then more orders over the month
                let first = self.lo + self.rng.range(0, if power { 3 * DAY } else { 5 * DAY });
                let product = self.rng.pick(&focus);
                self.purchase(first, product);
                let orders = self.n(if power { 5.0 } else { 2.5 });
                for _ in 0..orders {
                    let at = self.when(first, self.hi);
                    let product = self.rng.pick(&focus);
                    self.purchase(at, product);
                }
                let browse_from = first + HOUR;
                if power {
                    let (from, to) = self.project(7);
                    let sessions = self.n(7.0).max(2);
                    for _ in 0..sessions {
                        let at = if self.rng.chance(0.7) {
                            self.when(from.max(browse_from), to)
                        } else {
                            self.when(browse_from, self.hi)
                        };
                        let views = self.rng.between(3, 7);
                        self.browse(at, views, &focus, &categories);
                    }
                } else {
                    let sessions = self.n(2.5).max(1);
                    for _ in 0..sessions {
                        let at = self.when(browse_from, self.hi);
                        let views = self.rng.between(1, 3);
                        self.browse(at, views, &focus, &categories);
                    }
                }
                let opens = self.n(4.0);
                let click = if power { 0.4 } else { 0.3 };
                self.emails(opens, &DISTRIBUTOR_CAMPAIGNS, click, &focus);
            }
            Persona::DistributorProspect => {
                // browses the shop but orders elsewhere
                let (focus, categories) = self.focus(3);
                let sessions = self.n(5.0).max(1);
                for _ in 0..sessions {
                    let at = self.anytime();
                    let views = self.rng.between(1, 4);
                    self.browse(at, views, &focus, &categories);
                }
                let opens = self.n(1.5);
                self.emails(opens, &GENERIC_CAMPAIGNS, 0.0, &[]);
            }
            Persona::LeadCold => {
                let opens = self.n(5.0);
                self.emails(opens, &LEAD_CAMPAIGNS, 0.0, &[]);
                let visits = self.n(1.0);
                self.background(visits, 2);
            }
            Persona::LeadWarm => {
                let opens = self.n(5.0);
                self.emails(opens, &LEAD_CAMPAIGNS, 0.3, &[]);
                let at = self.anytime();
                self.pricing_session(at, 1);
                let visits = self.n(4.0);
                self.background(visits, 4);
            }
            Persona::LeadHot => {
                let opens = self.n(3.0);
                self.emails(opens, &LEAD_CAMPAIGNS, 0.2, &[]);
                let visits = self.n(3.0);
                self.background(visits, 4);
                // evaluating: webinars, pricing, offers clicked within a few weeks
                let (from, to) = self.project(14);
                let webinars = if self.rng.chance(0.5) { 2 } else { 1 };
                for _ in 0..webinars {
                    let at = self.when(from, to);
                    let topic = self.rng.pick(&LEAD_TOPICS);
                    self.push(at, Kind::Webinar(topic));
                }
                let sessions = self.rng.between(2, 3);
                for _ in 0..sessions {
                    let at = self.when(from, to);
                    let pricing = self.rng.between(1, 2);
                    self.pricing_session(at, pricing);
                }
                let clicks = self.rng.between(2, 3);
                for _ in 0..clicks {
                    let at = self.when(from, to);
                    self.email(at, &LEAD_CAMPAIGNS, 1.0, &[]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use revenue_core::{decode_json, Mode, UseCaseSet};
    use revenue_replay::{replay, ReplayOptions};
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::{BufReader, Cursor};
    use std::path::Path;
    use std::sync::Arc;

    fn reference() -> Arc<UseCaseSet> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../usecases/reference");
        Arc::new(revenue_usecases::load_dir(&dir).expect("the reference use cases load"))
    }

    fn small(seed: u64) -> SyntheticConfig {
        SyntheticConfig {
            seed,
            companies: 200,
            events: 3_000,
            ..SyntheticConfig::default()
        }
    }

    fn jsonl(events: &[SyntheticEvent]) -> String {
        events.iter().map(|e| format!("{}\n", e.json)).collect()
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let a: Vec<SyntheticEvent> = Generator::new(small(1)).collect();
        let b: Vec<SyntheticEvent> = Generator::new(small(1)).collect();
        let c: Vec<SyntheticEvent> = Generator::new(small(2)).collect();
        assert_eq!(jsonl(&a), jsonl(&b));
        assert_ne!(jsonl(&a), jsonl(&c));
        let names = |config| -> Vec<String> {
            Generator::new(config)
                .companies()
                .iter()
                .map(|c| c.name.clone())
                .collect()
        };
        assert_eq!(names(small(1)), names(small(1)));
        assert_ne!(names(small(1)), names(small(2)));
    }

    #[test]
    fn exact_count_in_strict_time_order_within_the_span() {
        for config in [
            SyntheticConfig::default(),
            small(3),
            SyntheticConfig {
                companies: 500,
                events: 120,
                days: 1,
                ..SyntheticConfig::default()
            },
            SyntheticConfig {
                companies: 20,
                events: 20_000,
                days: 7,
                ..SyntheticConfig::default()
            },
            SyntheticConfig { events: 0, ..small(4) },
        ] {
            let end = config.start_ts + i64::from(config.days) * DAY;
            let generator = Generator::new(config.clone());
            assert_eq!(generator.len() as u64, config.events);
            let events: Vec<SyntheticEvent> = generator.collect();
            assert_eq!(events.len() as u64, config.events, "{config:?}");
            assert!(events.windows(2).all(|w| w[0].ts < w[1].ts), "{config:?}");
            assert!(events.iter().all(|e| (config.start_ts..end).contains(&e.ts)));
        }
    }

    #[test]
    fn every_company_starts_with_its_profile_early() {
        let config = SyntheticConfig::default();
        let generator = Generator::new(config.clone());
        let companies = generator.companies().to_vec();
        assert_eq!(companies.len(), 2_000);
        assert_eq!(companies[41].id, "c-00042");
        assert!(companies
            .iter()
            .all(|c| (5..=5000).contains(&c.employees) && c.revenue_meur > 0.0));
        let mut first: BTreeMap<String, SyntheticEvent> = BTreeMap::new();
        let mut streams = BTreeMap::new();
        for event in generator {
            let kind: serde_json::Value = serde_json::from_str(&event.json).expect("JSON");
            let kind = kind["type"].as_str().expect("type").to_string();
            streams.insert(kind, event.stream);
            first.entry(event.customer_id.clone()).or_insert(event);
        }
        assert_eq!(first.len(), companies.len());
        for event in first.values() {
            assert!(event.json.contains("\"type\":\"company_profile\""), "{}", event.json);
            assert!(event.ts < config.start_ts + DAY);
            assert_eq!(event.stream, Stream::Transaction);
        }
        let transaction: BTreeSet<&str> = ["company_profile", "purchase", "contract"].into();
        let consent: BTreeSet<&str> = ["consent_given", "consent_withdrawn"].into();
        assert_eq!(streams.len(), 9, "every event type occurs: {streams:?}");
        for (kind, stream) in streams {
            let expected = if transaction.contains(kind.as_str()) {
                Stream::Transaction
            } else if consent.contains(kind.as_str()) {
                Stream::Consent
            } else {
                Stream::Behaviour
            };
            assert_eq!(stream, expected, "{kind}");
        }
    }

    #[test]
    fn every_event_decodes_with_the_reference_catalog() {
        let set = reference();
        for event in Generator::new(SyntheticConfig::default()) {
            let decoded = decode_json(&set.catalog, event.json.as_bytes(), None)
                .unwrap_or_else(|e| panic!("{}: {e}", event.json));
            assert!(decoded.type_index.is_some(), "{}", event.json);
            assert_eq!(decoded.customer_id(), event.customer_id);
            assert_eq!(decoded.ts(), event.ts);
        }
    }

    #[test]
    fn money_has_two_decimals_and_products_exist() {
        for event in Generator::new(small(5)) {
            let value: serde_json::Value = serde_json::from_str(&event.json).expect("JSON");
            for key in ["amount", "monthly_value"] {
                if let Some(text) = event.json.split(&format!("\"{key}\":")).nth(1) {
                    let number = text.split([',', '}']).next().unwrap_or_default();
                    assert!(number.split('.').nth(1).is_some_and(|d| d.len() == 2), "{}", event.json);
                    assert!(value[key].as_f64().is_some_and(|v| v > 0.0), "{}", event.json);
                }
            }
            if let Some(product) = value["product"].as_str() {
                let n: u32 = product.strip_prefix("p-").and_then(|n| n.parse().ok()).expect("p-NNNN");
                assert!((1..=300).contains(&n), "{product}");
            }
        }
    }

    /// Actions per (use case, tier).
    type TierActions = BTreeMap<(String, String), u64>;

    /// Replays the events through the reference use cases: actions per (use case, tier) from the
    /// summary, and each action's (customer, use case).
    fn replay_reference(events: &[SyntheticEvent]) -> (TierActions, Vec<(String, String)>) {
        let options = ReplayOptions {
            mode: Mode::Engine,
            source_name: "synthetic".into(),
            ..ReplayOptions::default()
        };
        let mut out = Vec::new();
        let input = jsonl(events);
        let summary = replay(
            reference(),
            BufReader::new(Cursor::new(input)),
            &mut out,
            &options,
            |_| {},
        )
        .expect("replays");
        assert_eq!(summary.events, events.len() as u64);
        assert_eq!(summary.malformed, 0);
        assert_eq!(summary.unknown_event_type, 0);
        let mut tiers = BTreeMap::new();
        for uc in &summary.use_cases {
            assert_eq!(uc.errors, 0, "{}", uc.id);
            for tier in &uc.tiers {
                tiers.insert((uc.id.clone(), tier.tier.clone()), tier.actions);
            }
        }
        let actions = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let action: serde_json::Value = serde_json::from_slice(l).expect("action JSON");
                let field = |key: &str| action[key].as_str().expect("string field").to_string();
                (field("customer_id"), field("use_case_id"))
            })
            .collect();
        (tiers, actions)
    }

    #[test]
    fn every_reference_use_case_and_tier_acts_but_not_everyone() {
        let config = SyntheticConfig::default();
        let events: Vec<SyntheticEvent> = Generator::new(config.clone()).collect();
        let (tiers, actions) = replay_reference(&events);
        for (uc, tier) in [
            ("telecom-cross-sell", "high"),
            ("telecom-cross-sell", "medium"),
            ("lead-scoring-mql", "mql"),
            ("distributor-recommendations", "web"),
            ("distributor-recommendations", "email"),
            ("distributor-recommendations", "field-sales"),
        ] {
            let n = tiers.get(&(uc.to_string(), tier.to_string())).copied().unwrap_or(0);
            println!("{uc}/{tier}: {n} actions");
            assert!(n >= 20, "{uc}/{tier} acted {n} times: {tiers:?}");
        }
        let reached: BTreeSet<&str> = actions.iter().map(|(c, _)| c.as_str()).collect();
        let share = reached.len() as f64 / f64::from(config.companies);
        println!(
            "companies reached: {} of {} ({:.1} %)",
            reached.len(),
            config.companies,
            100.0 * share
        );
        assert!(share < 0.6, "every company acted on: {share}");
        assert!(share > 0.15, "hardly any company acted on: {share}");
        for uc in ["telecom-cross-sell", "lead-scoring-mql", "distributor-recommendations"] {
            let customers: BTreeSet<&str> = actions.iter().filter(|a| a.1 == uc).map(|a| a.0.as_str()).collect();
            println!("{uc}: {} companies", customers.len());
        }
    }

    #[test]
    fn quiet_segments_get_no_actions() {
        let generator = Generator::new(SyntheticConfig::default());
        let segments: Vec<&str> = (0..generator.companies().len()).map(|i| generator.segment(i)).collect();
        let events: Vec<SyntheticEvent> = generator.collect();
        let (_, actions) = replay_reference(&events);
        let segment_of = |customer: &str| {
            let n: usize = customer
                .strip_prefix("c-")
                .and_then(|n| n.parse().ok())
                .expect("c-NNNNN");
            segments[n - 1]
        };
        let mut reached: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (customer, uc) in &actions {
            reached.entry(uc.as_str()).or_default().insert(segment_of(customer));
        }
        println!("segments reached: {reached:?}");
        // these segments show no signal any reference use case acts on
        for quiet in [
            "dormant",
            "telecom/quiet",
            "distributor/edi",
            "distributor/prospect",
            "lead/cold",
        ] {
            for (uc, segments) in &reached {
                assert!(!segments.contains(quiet), "{quiet} got a {uc} action");
            }
        }
        // and each use case reaches the segments it was built for
        for (uc, segments) in [
            ("telecom-cross-sell", ["telecom/curious", "telecom/hot"]),
            (
                "distributor-recommendations",
                ["distributor/returning", "distributor/power"],
            ),
            ("lead-scoring-mql", ["lead/hot", "telecom/hot"]),
        ] {
            for segment in segments {
                assert!(
                    reached[uc].contains(segment),
                    "{uc} never reached {segment}: {reached:?}"
                );
            }
        }
    }
}
