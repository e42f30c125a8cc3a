//! Typed label sets: a family's label names and one series' values come from the same struct,
//! so a definition and its updates cannot disagree on order or arity. Every label is drawn from
//! a bounded set (topics, use case ids, channels, reasons, stages, groups, bounds) — never a
//! customer id.

use prometheus::core::{MetricVec, MetricVecBuilder};
use std::marker::PhantomData;

/// The labels of a metric family.
pub trait LabelSet {
    /// The label names, in order.
    const NAMES: &'static [&'static str];
    /// One series' values.
    type Values<'a>;
    /// Calls `f` with the values in the order of [`NAMES`](Self::NAMES) (no allocation).
    fn with_values<R>(values: &Self::Values<'_>, f: impl FnOnce(&[&str]) -> R) -> R;
}

/// Declares a label set: a struct of borrowed values whose field names are the label names.
macro_rules! label_set {
    ($(#[$doc:meta])* $name:ident { $($field:ident),+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name<'a> {
            $(pub $field: &'a str),+
        }

        impl LabelSet for $name<'static> {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),+];
            type Values<'a> = $name<'a>;
            fn with_values<R>(values: &$name<'_>, f: impl FnOnce(&[&str]) -> R) -> R {
                f(&[$(values.$field),+])
            }
        }
    };
}

label_set!(
    /// An input topic.
    Topic { topic }
);
label_set!(
    /// A use case id.
    UseCase { use_case }
);
label_set!(
    /// A use case and an action channel.
    UseCaseChannel { use_case, channel }
);
label_set!(
    /// A use case and a funnel stage.
    UseCaseStage { use_case, stage }
);
label_set!(
    /// A use case as loaded: id, version and status.
    UseCaseVersion { use_case, version, status }
);
label_set!(
    /// A use case and why the contact policy suppressed a decision (`Reason::as_str`).
    UseCaseSuppression { use_case, reason }
);
label_set!(
    /// A use case and a measurement group (`treatment`, `control`).
    UseCaseGroup { use_case, group }
);
label_set!(
    /// A use case and a bound of an interval (`estimate`, `lower`, `upper`).
    UseCaseBound { use_case, bound }
);
label_set!(
    /// Why an event was dead-lettered (`WireError::reason`).
    DeadLetterReason { reason }
);
label_set!(
    /// What became of a use-case directory change (`applied`, `refused`).
    ReloadResult { result }
);

/// A labelled metric family whose series are addressed by a typed label set.
pub struct Family<V, L> {
    vec: V,
    labels: PhantomData<fn() -> L>,
}

impl<B: MetricVecBuilder, L: LabelSet> Family<MetricVec<B>, L> {
    pub(super) fn new(vec: MetricVec<B>) -> Self {
        Family {
            vec,
            labels: PhantomData,
        }
    }

    /// The series of `values` (created at zero the first time).
    pub fn with(&self, values: &L::Values<'_>) -> B::M {
        L::with_values(values, |v| self.vec.with_label_values(v))
    }

    /// Removes every series.
    pub fn reset(&self) {
        self.vec.reset();
    }
}
