//! One company's behaviour over the span, by persona: sessions of page views, e-mails,
//! webinars, orders and contracts.

use super::catalogue::{Catalogue, NO_PRODUCT, SERVICES};
use super::content::{
    DISTRIBUTOR_CAMPAIGNS, GENERIC_CAMPAIGNS, LEAD_CAMPAIGNS, LEAD_TOPICS, TELECOM_CAMPAIGNS, TELECOM_CROSS_SELL,
    TELECOM_TOPICS,
};
use super::event::{Kind, Page, Raw};
use super::persona::Persona;
use super::plan::business_time;
use super::{DAY, HOUR, SECOND};
use revenue_core::rng::Rng;

/// Writes one company's behaviour.
pub(super) struct Planner<'a> {
    pub(super) rng: Rng,
    pub(super) company: u32,
    pub(super) seq: u32,
    /// Earliest time of the company's activity (after its profile).
    pub(super) lo: i64,
    pub(super) hi: i64,
    /// Multiplies the mean number of sessions, orders and e-mails.
    pub(super) scale: f64,
    pub(super) out: &'a mut Vec<Raw>,
    pub(super) catalogue: &'a Catalogue,
    pub(super) employees: u32,
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

    pub(super) fn behave(&mut self, persona: Persona) {
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
