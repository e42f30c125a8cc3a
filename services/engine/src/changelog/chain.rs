//! The line of committed checkpoints, rebuilt from changelog records as a restore reads them.

use super::{CheckpointOffsets, RESTORE_BATCH};
use std::collections::BTreeMap;

/// Whether `from` (a checkpoint's start) is exactly the position `at`, over the checkpoint's topics.
fn starts_at(offsets: &CheckpointOffsets, at: &BTreeMap<String, i64>) -> bool {
    offsets.to.keys().all(|topic| offsets.from.get(topic) == at.get(topic))
}

/// Whether the checkpoint reaches exactly `position` in every one of its topics.
fn reaches(offsets: &CheckpointOffsets, position: &BTreeMap<String, i64>) -> bool {
    offsets.to.iter().all(|(topic, next)| position.get(topic) == Some(next))
}

pub(super) type Record = (Vec<u8>, Option<Vec<u8>>);

/// One checkpoint read back from the changelog: its offsets and its state records.
struct Checkpoint {
    offsets: CheckpointOffsets,
    records: Vec<Record>,
}

/// Rebuilds the line of committed checkpoints from changelog records as they are read.
///
/// Records of a checkpoint whose offsets record never arrived (a crash in the middle of writing
/// it) are dropped. A checkpoint is applied once the next one starts where it ended; one that is
/// followed by a checkpoint starting from the same point as itself was aborted and retried (the
/// engine rewinds to the last commit after an abort or a crash), so it is dropped. That matters
/// on brokers that return aborted transactional records to `read_committed` readers.
///
/// Chaining alone cannot tell a line of aborted transactions (a zombie's C2, C3, C4, each
/// starting where the last ended) from committed ones, so with the group's committed offsets
/// (exactly-once) no checkpoint reaching beyond them is ever applied: the broker stores input
/// offsets only when a transaction commits, so such a checkpoint was aborted.
pub(super) struct Chain {
    /// Input offsets of the last applied checkpoint.
    pub(super) tip: BTreeMap<String, i64>,
    /// Records whose checkpoint has not ended yet, with their checkpoint id.
    open: Vec<(u64, Vec<u8>, Option<Vec<u8>>)>,
    /// The last complete checkpoint, not yet known to be committed.
    pending: Option<Checkpoint>,
    /// Confirmed records waiting to be written.
    pub(super) confirmed: Vec<Record>,
    pub(super) dropped: u64,
    /// The group's committed input offsets (exactly-once), a bound no applied checkpoint passes.
    committed: Option<BTreeMap<String, i64>>,
    /// Checkpoints, and their records, dropped because they reach beyond `committed`.
    pub(super) beyond: Beyond,
}

/// Checkpoints dropped by a restore because they reach beyond the committed input offsets.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Beyond {
    pub(super) checkpoints: u64,
    pub(super) records: u64,
}

impl Chain {
    pub(super) fn new(tip: BTreeMap<String, i64>, committed: Option<&BTreeMap<String, i64>>) -> Chain {
        Chain {
            tip,
            open: Vec::new(),
            pending: None,
            confirmed: Vec::with_capacity(RESTORE_BATCH),
            dropped: 0,
            committed: committed.cloned(),
            beyond: Beyond::default(),
        }
    }

    pub(super) fn state(&mut self, checkpoint: u64, key: &[u8], value: Option<&[u8]>) {
        self.open.push((checkpoint, key.to_vec(), value.map(<[u8]>::to_vec)));
    }

    pub(super) fn end_of_checkpoint(&mut self, checkpoint: u64, offsets: CheckpointOffsets) {
        let before = self.open.len();
        let records: Vec<Record> = self
            .open
            .drain(..)
            .filter(|(id, _, _)| *id == checkpoint)
            .map(|(_, key, value)| (key, value))
            .collect();
        self.dropped += (before - records.len()) as u64;
        let next = Checkpoint { offsets, records };
        match self.pending.take() {
            Some(last) if starts_at(&next.offsets, &last.offsets.to) => self.confirm(last),
            Some(last) if starts_at(&next.offsets, &self.tip) => self.drop_checkpoint(&last),
            // not chained (written by an older version, or a gap): keep the log's order
            Some(last) => self.confirm(last),
            None => {}
        }
        self.pending = Some(next);
    }

    /// Counts a checkpoint's records and its offsets record as dropped.
    fn drop_checkpoint(&mut self, checkpoint: &Checkpoint) {
        self.dropped += checkpoint.records.len() as u64 + 1;
    }

    fn confirm(&mut self, checkpoint: Checkpoint) {
        if self
            .committed
            .as_ref()
            .is_some_and(|committed| passes(&checkpoint.offsets, committed))
        {
            self.beyond.checkpoints += 1;
            self.beyond.records += checkpoint.records.len() as u64;
            self.drop_checkpoint(&checkpoint);
            return;
        }
        self.confirmed.extend(checkpoint.records);
        self.tip.extend(checkpoint.offsets.to);
    }

    /// At the end of the changelog: the last checkpoint counts if it reaches the committed input
    /// offsets (exactly-once), or always (at-least-once, where nothing is ever aborted).
    pub(super) fn finish(&mut self) {
        self.dropped += self.open.len() as u64;
        self.open.clear();
        if let Some(last) = self.pending.take() {
            match &self.committed {
                Some(committed) if passes(&last.offsets, committed) => self.confirm(last),
                Some(committed) if !reaches(&last.offsets, committed) => self.drop_checkpoint(&last),
                _ => self.confirm(last),
            }
        }
    }
}

/// Whether the checkpoint reaches past `committed` in any topic that has a committed offset.
fn passes(offsets: &CheckpointOffsets, committed: &BTreeMap<String, i64>) -> bool {
    offsets
        .to
        .iter()
        .any(|(topic, next)| committed.get(topic).is_some_and(|c| next > c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(from: i64, to: i64) -> CheckpointOffsets {
        let at = |o: i64| [("events".to_string(), o)].into_iter().filter(|_| o >= 0).collect();
        CheckpointOffsets {
            from: at(from),
            to: at(to),
        }
    }

    fn keys(chain: &Chain) -> Vec<&[u8]> {
        chain.confirmed.iter().map(|(k, _)| k.as_slice()).collect()
    }

    fn events(offset: i64) -> BTreeMap<String, i64> {
        BTreeMap::from([("events".to_string(), offset)])
    }

    #[test]
    fn chained_checkpoints_are_applied_in_order() {
        let mut chain = Chain::new(BTreeMap::new(), None);
        chain.state(1, b"a", Some(b"1"));
        chain.end_of_checkpoint(1, offsets(-1, 10));
        chain.state(2, b"b", Some(b"2"));
        chain.end_of_checkpoint(2, offsets(10, 20));
        assert_eq!(keys(&chain), [b"a"], "the last one waits for its successor");
        chain.finish();
        assert_eq!(keys(&chain), [b"a".as_slice(), b"b"]);
        assert_eq!(chain.tip.get("events"), Some(&20));
    }

    #[test]
    fn a_checkpoint_retried_from_its_own_start_was_aborted() {
        let mut chain = Chain::new(events(10), Some(&events(25)));
        chain.state(7, b"aborted", Some(b"x"));
        chain.end_of_checkpoint(7, offsets(10, 30));
        chain.state(8, b"retried", Some(b"y"));
        chain.end_of_checkpoint(8, offsets(10, 20));
        chain.state(9, b"next", Some(b"z"));
        chain.end_of_checkpoint(9, offsets(20, 25));
        chain.finish();
        assert_eq!(keys(&chain), [b"retried".as_slice(), b"next"]);
        assert_eq!(chain.tip.get("events"), Some(&25));
    }

    #[test]
    fn records_of_an_unfinished_checkpoint_are_dropped() {
        let mut chain = Chain::new(BTreeMap::new(), None);
        chain.state(1, b"crashed-before-its-offsets", Some(b"x"));
        chain.state(2, b"complete", Some(b"y"));
        chain.end_of_checkpoint(2, offsets(-1, 5));
        chain.state(3, b"tail", Some(b"z"));
        chain.finish();
        assert_eq!(keys(&chain), [b"complete"]);
        assert_eq!(chain.dropped, 2);
    }

    #[test]
    fn exactly_once_drops_a_last_checkpoint_beyond_the_committed_offsets() {
        let read = |committed: Option<&BTreeMap<String, i64>>| {
            let mut chain = Chain::new(BTreeMap::new(), committed);
            chain.state(1, b"committed", Some(b"1"));
            chain.end_of_checkpoint(1, offsets(-1, 10));
            chain.state(2, b"aborted", Some(b"2"));
            chain.end_of_checkpoint(2, offsets(10, 20));
            chain.finish();
            chain
        };
        let exactly_once = read(Some(&events(10)));
        assert_eq!(keys(&exactly_once), [b"committed"]);
        assert_eq!(exactly_once.tip.get("events"), Some(&10));
        let at_least_once = read(None);
        assert_eq!(keys(&at_least_once), [b"committed".as_slice(), b"aborted"]);
    }

    /// A zombie's aborted transactions, each starting where the last ended (Tansu returns them
    /// to read_committed readers), then the committed retry of the first of them.
    #[test]
    fn a_chain_of_aborted_checkpoints_beyond_the_committed_offsets_is_never_applied() {
        let committed = events(4176);
        let mut chain = Chain::new(events(4170), Some(&committed));
        chain.state(2, b"zombie-c2", Some(b"x"));
        chain.end_of_checkpoint(2, offsets(4170, 4500));
        chain.state(3, b"zombie-c3", Some(b"x"));
        chain.end_of_checkpoint(3, offsets(4500, 4846));
        chain.state(4, b"zombie-c4", Some(b"x"));
        chain.end_of_checkpoint(4, offsets(4846, 4868));
        chain.state(5, b"committed", Some(b"y"));
        chain.end_of_checkpoint(5, offsets(4170, 4176));
        chain.finish();
        assert_eq!(keys(&chain), [b"committed"]);
        assert_eq!(chain.tip, committed);
        assert_eq!(
            chain.beyond,
            Beyond {
                checkpoints: 2,
                records: 2
            },
            "c4 was dropped as a retried one"
        );
    }

    /// The restore of issue 15: the changelog ends in aborted checkpoints, so nothing past the
    /// committed offsets may be applied (the engine would resume from the restored offsets).
    #[test]
    fn a_changelog_ending_in_aborted_checkpoints_restores_the_committed_offsets() {
        let committed = events(4170);
        let mut chain = Chain::new(BTreeMap::new(), Some(&committed));
        chain.state(1, b"committed", Some(b"y"));
        chain.end_of_checkpoint(1, offsets(-1, 4170));
        chain.state(2, b"zombie-c2", Some(b"x"));
        chain.end_of_checkpoint(2, offsets(4170, 4500));
        chain.state(3, b"zombie-c3", Some(b"x"));
        chain.end_of_checkpoint(3, offsets(4500, 4846));
        chain.finish();
        assert_eq!(keys(&chain), [b"committed"]);
        assert_eq!(chain.tip, committed, "restored offsets never pass the committed ones");
        assert_eq!(chain.beyond.checkpoints, 2);
    }

    #[test]
    fn topics_without_a_committed_offset_do_not_bound_the_restore() {
        let mut chain = Chain::new(BTreeMap::new(), Some(&BTreeMap::from([("other".to_string(), 3)])));
        chain.state(1, b"a", Some(b"1"));
        chain.end_of_checkpoint(1, offsets(-1, 10));
        chain.state(2, b"b", Some(b"2"));
        chain.end_of_checkpoint(2, offsets(10, 20));
        chain.finish();
        assert_eq!(
            keys(&chain),
            [b"a"],
            "the last one does not reach the committed offsets"
        );
        assert_eq!(chain.beyond.checkpoints, 0);
    }
}
