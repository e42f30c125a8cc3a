//! The files users write, as parsed from YAML: the feature catalog (`features.yaml`) and one
//! file per use case. Unknown keys are refused; the JSON Schemas under `schemas/` are generated
//! from these types (`revenue-engine schema`), so editors check files as they are typed.

mod catalog;
mod policy;
mod usecase;

pub use catalog::{CatalogSpec, EventTypeSpec, FeatureKind, FeatureSpec, FieldType, PointsRuleSpec};
pub use policy::{
    ArbitrateBy, ArbitrationSpec, AttributionSpec, CapSpec, ChannelPolicySpec, ConsentMode, ConsentSpec,
    ConversionSpec, HoldoutDefaultSpec, PolicySpec, QuietHoursSpec,
};
pub use usecase::{
    ActionSpec, ActionType, AlgoSpec, DataSpec, FunnelSpec, HoldoutSpec, ModelOutput, ModelSpec, ModelType,
    RecommenderSpec, RetriggerSpec, StageSpec, Status, TierSpec, TimerClock, TimerSpec, UseCaseSpec, ValueDriver,
};

/// The JSON Schemas of the two file kinds, as (file name, pretty JSON), generated from the types
/// the loader parses so they cannot drift; `schemas/` holds the committed copies.
pub fn json_schemas() -> Vec<(&'static str, String)> {
    let render = |schema: schemars::Schema| serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n";
    vec![
        ("usecase.schema.json", render(schemars::schema_for!(UseCaseSpec))),
        ("features.schema.json", render(schemars::schema_for!(CatalogSpec))),
        ("policy.schema.json", render(schemars::schema_for!(PolicySpec))),
    ]
}
