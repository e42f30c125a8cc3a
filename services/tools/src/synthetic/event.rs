//! Planned events: compact (32 bytes), rendered to JSON only when the generator yields them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Page {
    Product,
    Pricing,
    Category,
    Support,
    Home,
}

impl Page {
    pub(super) fn name(self) -> &'static str {
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
pub(super) enum Kind {
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
    /// Consent given (true) or withdrawn, for a channel of [`CONSENT_CHANNELS`](super::content::CONSENT_CHANNELS).
    Consent(bool, u8),
}

/// A planned event; `seq` orders a company's events that share a timestamp.
#[derive(Debug, Clone, Copy)]
pub(super) struct Raw {
    pub(super) ts: i64,
    pub(super) company: u32,
    pub(super) seq: u32,
    pub(super) kind: Kind,
}
