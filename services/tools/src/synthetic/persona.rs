//! The behaviour segments companies are drawn into; see the module documentation of
//! [`super`].

use revenue_core::rng::Rng;

/// How a company behaves; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Persona {
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
    pub(super) fn label(self) -> &'static str {
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

pub(super) fn persona(rng: &mut Rng) -> Persona {
    PERSONAS[rng.weighted(&PERSONAS.map(|p| p.1))].0
}
