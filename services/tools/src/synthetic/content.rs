//! What marketing sends and records: e-mail campaigns, webinar topics and consent channels,
//! referred to by index in planned events.

pub(super) const CAMPAIGNS: [&str; 14] = [
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
pub(super) const GENERIC_CAMPAIGNS: [u8; 2] = [0, 1];
pub(super) const TELECOM_CAMPAIGNS: [u8; 4] = [2, 3, 4, 5];
pub(super) const TELECOM_CROSS_SELL: [u8; 2] = [3, 4];
pub(super) const DISTRIBUTOR_CAMPAIGNS: [u8; 4] = [6, 7, 8, 9];
pub(super) const LEAD_CAMPAIGNS: [u8; 4] = [10, 11, 12, 13];

pub(super) const TOPICS: [&str; 10] = [
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
pub(super) const TELECOM_TOPICS: [u8; 5] = [0, 1, 2, 3, 4];
pub(super) const LEAD_TOPICS: [u8; 5] = [5, 6, 7, 8, 9];

/// Channels consent events name; `all` means every channel.
pub(super) const CONSENT_CHANNELS: [&str; 3] = ["email", "telemarketing", "all"];
