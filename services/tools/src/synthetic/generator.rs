//! The generator: companies and personas drawn, every event planned up front, each rendered to
//! its JSON line as the iterator yields it.

use super::catalogue::{Catalogue, NO_PRODUCT, SERVICES};
use super::company::{company, timezone, Company};
use super::content::{CAMPAIGNS, CONSENT_CHANNELS, TOPICS};
use super::event::{Kind, Raw};
use super::persona::{persona, Persona};
use super::plan::plan;
use super::{Stream, SyntheticConfig, SyntheticEvent, DAY};
use revenue_core::rng::Rng;
use std::fmt::Write as _;

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
        let mut rng = Rng::for_stream(config.seed, 0xC0);
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
