//! One RocksDB per assigned input partition number, with a write-back cache of customer state
//! in front of it: RocksDB is read only on a miss, and every changed customer of a commit
//! interval is written in one `WriteBatch` together with the next input offset of each input
//! topic — so the stored state and the offsets it reflects can never disagree.
//!
//! Timers and state expiry use an index ordered by due time (column family `timers`, key =
//! clock kind, due time, customer): firing reads only the due entries, never scans customers.
//! The index is a hint kept in the same batches as the state; the customer's state decides.
//!
//! Input topics are co-partitioned by customer id (same partition count, same key partitioner),
//! as Kafka Streams requires for joins: partition `n` of every input topic holds the same
//! customers, so one store per partition number serves them all.

use compact_str::CompactString;
use revenue_core::codec;
use revenue_core::{Catalog, CustomerState};
use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const META_CF: &str = "meta";
const TIMERS_CF: &str = "timers";
pub use revenue_core::state::{Dues, EVENT_TIME, WALL_CLOCK};

const NEXT_OFFSET_PREFIX: &str = "next_offset/";
const CHANGELOG_NEXT_KEY: &str = "changelog_next";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("RocksDB store {path}: {source}; check the state directory (disk full, permissions, another process holding the lock)")]
    RocksDb {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    #[error("RocksDB store {path}: {source}; check the state directory (disk full, permissions, another process holding the lock)")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("RocksDB store {path}: column family `{name}` missing; check the state directory (disk full, permissions, another process holding the lock)")]
    MissingColumnFamily { path: PathBuf, name: &'static str },
    #[error("RocksDB store {path}: the stored state of customer `{id}` cannot be decoded: {source}; it is replaced by an empty state when the customer's next event comes")]
    Undecodable {
        path: PathBuf,
        id: String,
        #[source]
        source: codec::StateDecodeError,
    },
}

/// Index key: kind, due time big-endian with the sign bit flipped (bytes sort as numbers), id.
fn due_key(kind: u8, due: i64, id: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + id.len());
    key.push(kind);
    key.extend_from_slice(&((due as u64) ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(id);
    key
}

fn parse_due_key(key: &[u8]) -> Option<(u8, i64, &[u8])> {
    let kind = *key.first()?;
    let due = u64::from_be_bytes(key.get(1..9)?.try_into().ok()?) ^ (1 << 63);
    Some((kind, due as i64, &key[9..]))
}

/// A changed customer, ready for the changelog and the store: `value` `None` deletes it.
pub struct Change {
    pub id: CompactString,
    pub value: Option<Vec<u8>>,
    dues_before: Dues,
    dues_after: Dues,
}

impl Change {
    /// Index entries this change adds: (clock kind, due time).
    pub fn added_dues(&self) -> impl Iterator<Item = (u8, i64)> + '_ {
        self.dues_after
            .iter()
            .copied()
            .filter(|d| !self.dues_before.contains(d))
    }
}

struct Cached {
    state: CustomerState,
    dirty: bool,
    /// Expired: deleted (with a changelog tombstone) at the next checkpoint.
    deleted: bool,
    /// Dues as the timer index holds them for this customer.
    persisted: Dues,
}

pub struct PartitionStore {
    db: DB,
    root: PathBuf,
    partition: i32,
    path: PathBuf,
    cache: FxHashMap<CompactString, Cached>,
    capacity: usize,
    dirty: usize,
    buffer: Vec<u8>,
    /// Stored values that could not be decoded (replaced by empty state); reported as a metric.
    pub corrupt_values: u64,
}

/// Where a partition's store lives: `<root>/partition-<n>`.
pub fn store_path(root: &Path, partition: i32) -> PathBuf {
    root.join(format!("partition-{partition}"))
}

impl PartitionStore {
    pub fn open(root: &Path, partition: i32, capacity: usize) -> Result<PartitionStore, StoreError> {
        let path = store_path(root, partition);
        std::fs::create_dir_all(&path).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let cfs = vec![
            ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, Options::default()),
            ColumnFamilyDescriptor::new(META_CF, Options::default()),
            ColumnFamilyDescriptor::new(TIMERS_CF, Options::default()),
        ];
        let db = DB::open_cf_descriptors(&options, &path, cfs).map_err(|source| StoreError::RocksDb {
            path: path.clone(),
            source,
        })?;
        Ok(PartitionStore {
            db,
            root: root.to_path_buf(),
            partition,
            path,
            cache: FxHashMap::default(),
            capacity,
            dirty: 0,
            buffer: Vec::with_capacity(256),
            corrupt_values: 0,
        })
    }

    fn meta(&self) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.column_family(META_CF)
    }

    fn timers(&self) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.column_family(TIMERS_CF)
    }

    fn column_family(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db.cf_handle(name).ok_or_else(|| StoreError::MissingColumnFamily {
            path: self.path.clone(),
            name,
        })
    }

    fn error(&self, source: rocksdb::Error) -> StoreError {
        StoreError::RocksDb {
            path: self.path.clone(),
            source,
        }
    }

    /// The next offset of `topic` the stored state has not seen, if anything was ever stored.
    pub fn next_offset(&self, topic: &str) -> Result<Option<i64>, StoreError> {
        self.meta_i64(format!("{NEXT_OFFSET_PREFIX}{topic}").as_bytes())
    }

    /// The next offset of every input topic the stored state reflects.
    pub fn input_offsets(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let meta = self.meta()?;
        let mut offsets = BTreeMap::new();
        let prefix = NEXT_OFFSET_PREFIX.as_bytes();
        for item in self.db.prefix_iterator_cf(meta, prefix) {
            let (key, value) = item.map_err(|e| self.error(e))?;
            let Some(topic) = key.strip_prefix(prefix) else { break };
            if let (Ok(topic), Ok(bytes)) = (std::str::from_utf8(topic), <[u8; 8]>::try_from(value.as_ref())) {
                offsets.insert(topic.to_string(), i64::from_le_bytes(bytes));
            }
        }
        Ok(offsets)
    }

    /// The next changelog offset the local state reflects, if it was ever written or restored.
    pub fn changelog_next(&self) -> Result<Option<i64>, StoreError> {
        self.meta_i64(CHANGELOG_NEXT_KEY.as_bytes())
    }

    fn meta_i64(&self, key: &[u8]) -> Result<Option<i64>, StoreError> {
        let meta = self.meta()?;
        let value = self.db.get_pinned_cf(meta, key).map_err(|e| self.error(e))?;
        Ok(value
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(i64::from_le_bytes))
    }

    /// A customer's stored value as it is in RocksDB (diagnostics and tests).
    pub fn stored_bytes(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get(id.as_bytes()).map_err(|e| self.error(e))
    }

    /// The customer's state, from the cache or RocksDB; marked changed.
    pub fn customer(&mut self, catalog: &Catalog, id: &str) -> Result<&mut CustomerState, StoreError> {
        // ids up to 24 bytes are inline in a CompactString: the lookup key costs no allocation
        let entry = match self.cache.entry(CompactString::from(id)) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(slot) => {
                let stored = self
                    .db
                    .get_pinned(id.as_bytes())
                    .map_err(|source| StoreError::RocksDb {
                        path: self.path.clone(),
                        source,
                    })?;
                let state = match stored {
                    None => CustomerState::new(catalog),
                    Some(bytes) => codec::decode(catalog, &bytes).unwrap_or_else(|_| {
                        self.corrupt_values += 1;
                        CustomerState::new(catalog)
                    }),
                };
                let persisted = state.dues(catalog);
                slot.insert(Cached {
                    state,
                    dirty: false,
                    deleted: false,
                    persisted,
                })
            }
        };
        if entry.deleted {
            // expired, and back before the deletion was written: a new customer
            entry.deleted = false;
            entry.state = CustomerState::new(catalog);
        }
        if !entry.dirty {
            entry.dirty = true;
            self.dirty += 1;
        }
        Ok(&mut entry.state)
    }

    /// A customer's state for a timer or expiry check, if the customer exists; not marked
    /// changed (see [`mark_changed`](Self::mark_changed)).
    pub fn existing_customer(&mut self, catalog: &Catalog, id: &str) -> Result<Option<&mut CustomerState>, StoreError> {
        if !self.cache.contains_key(id) {
            let Some(bytes) = self.db.get_pinned(id.as_bytes()).map_err(|e| self.error(e))? else {
                return Ok(None);
            };
            let state = codec::decode(catalog, &bytes).unwrap_or_else(|_| {
                self.corrupt_values += 1;
                CustomerState::new(catalog)
            });
            let persisted = state.dues(catalog);
            self.cache.insert(
                CompactString::from(id),
                Cached {
                    state,
                    dirty: false,
                    deleted: false,
                    persisted,
                },
            );
        }
        Ok(self.cache.get_mut(id).filter(|e| !e.deleted).map(|e| &mut e.state))
    }

    /// A copy of the customer's current state (cached, with changes not yet written, or
    /// stored), if the customer exists; the cache is left as it is (diagnostics).
    pub fn peek(&self, catalog: &Catalog, id: &str) -> Result<Option<CustomerState>, StoreError> {
        if let Some(entry) = self.cache.get(id) {
            return Ok((!entry.deleted).then(|| entry.state.clone()));
        }
        let Some(bytes) = self.db.get_pinned(id.as_bytes()).map_err(|e| self.error(e))? else {
            return Ok(None);
        };
        codec::decode(catalog, &bytes)
            .map(Some)
            .map_err(|source| StoreError::Undecodable {
                path: self.path.clone(),
                id: id.to_string(),
                source,
            })
    }

    /// Marks a customer changed: written (and its due-time index entries moved to what its
    /// state has due now) at the next checkpoint.
    pub fn mark_changed(&mut self, id: &str) {
        if let Some(entry) = self.cache.get_mut(id) {
            if !entry.dirty {
                entry.dirty = true;
                self.dirty += 1;
            }
        }
    }

    /// Drops an expired customer: deleted, with a changelog tombstone, at the next checkpoint.
    pub fn remove(&mut self, id: &str) {
        self.mark_changed(id);
        if let Some(entry) = self.cache.get_mut(id) {
            entry.deleted = true;
        }
    }

    /// Customers with an index entry of `kind` due by `up_to`, at most `limit`, earliest first.
    /// Entries that no longer match the customer's stored or current state are removed.
    pub fn due_customers(
        &mut self,
        catalog: &Catalog,
        kind: u8,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<CompactString>, StoreError> {
        let timers = self.timers()?;
        let mut found: Vec<CompactString> = Vec::new();
        // a customer with several due entries is handled once
        let mut seen = rustc_hash::FxHashSet::default();
        let mut stale = Vec::new();
        let start = due_key(kind, i64::MIN, b"");
        for item in self
            .db
            .iterator_cf(timers, IteratorMode::From(&start, Direction::Forward))
        {
            let (key, _) = item.map_err(|e| self.error(e))?;
            let Some((k, due, id)) = parse_due_key(&key) else { break };
            if k != kind || due > up_to || found.len() >= limit {
                break;
            }
            let Ok(id) = std::str::from_utf8(id) else {
                stale.push(key.to_vec());
                continue;
            };
            let current = match self.cache.get(id) {
                Some(entry) => {
                    entry.persisted.contains(&(kind, due)) || entry.state.dues(catalog).contains(&(kind, due))
                }
                None => match self.db.get_pinned(id.as_bytes()).map_err(|e| self.error(e))? {
                    Some(bytes) => codec::decode(catalog, &bytes)
                        .map(|state| state.dues(catalog).contains(&(kind, due)))
                        .unwrap_or(false),
                    None => false,
                },
            };
            if !current {
                stale.push(key.to_vec());
            } else if seen.insert(id.to_string()) {
                found.push(CompactString::from(id));
            }
        }
        if !stale.is_empty() {
            let mut batch = WriteBatch::default();
            for key in &stale {
                batch.delete_cf(timers, key);
            }
            self.db.write(batch).map_err(|e| self.error(e))?;
        }
        Ok(found)
    }

    /// The earliest due time of `kind` after `after` in the index.
    pub fn next_due(&self, kind: u8, after: i64) -> Result<Option<i64>, StoreError> {
        let timers = self.timers()?;
        let start = due_key(kind, after.saturating_add(1), b"");
        let mut iter = self
            .db
            .iterator_cf(timers, IteratorMode::From(&start, Direction::Forward));
        match iter.next() {
            Some(item) => {
                let (key, _) = item.map_err(|e| self.error(e))?;
                Ok(parse_due_key(&key)
                    .filter(|(k, _, _)| *k == kind)
                    .map(|(_, due, _)| due))
            }
            None => Ok(None),
        }
    }

    /// Whether enough customers changed that the interval should end early (memory bound).
    pub fn over_capacity(&self) -> bool {
        self.dirty >= self.capacity
    }

    pub fn cached_customers(&self) -> usize {
        self.cache.len()
    }

    /// Writes every changed customer and the next offset of each input topic in one batch, then
    /// trims the cache back to its capacity.
    pub fn checkpoint(&mut self, catalog: &Catalog, next_offsets: &[(&str, i64)]) -> Result<(), StoreError> {
        let changes = self.take_changes(catalog);
        self.write(&changes, next_offsets, None)
    }

    /// The customers changed since the last checkpoint, encoded (`None`: expired); they count
    /// as clean from now on (the caller writes them, to the changelog and then with
    /// [`write`](Self::write)).
    pub fn take_changes(&mut self, catalog: &Catalog) -> Vec<Change> {
        let mut changes = Vec::with_capacity(self.dirty);
        for (id, entry) in self.cache.iter_mut().filter(|(_, e)| e.dirty) {
            let (value, dues_after) = if entry.deleted {
                (None, Dues::new())
            } else {
                codec::encode(catalog, &entry.state, &mut self.buffer);
                (Some(self.buffer.clone()), entry.state.dues(catalog))
            };
            let dues_before = std::mem::replace(&mut entry.persisted, dues_after.clone());
            changes.push(Change {
                id: id.clone(),
                value,
                dues_before,
                dues_after,
            });
            entry.dirty = false;
        }
        self.cache.retain(|_, e| !e.deleted);
        self.dirty = 0;
        changes
    }

    /// One batch: the encoded states, the next input offsets, and the changelog position they
    /// reflect. Then the cache is trimmed back to its capacity.
    pub fn write(
        &mut self,
        changes: &[Change],
        next_offsets: &[(&str, i64)],
        changelog_next: Option<i64>,
    ) -> Result<(), StoreError> {
        let meta = self.meta()?;
        let timers = self.timers()?;
        let mut batch = WriteBatch::default();
        for change in changes {
            let id = change.id.as_bytes();
            match &change.value {
                Some(bytes) => batch.put(id, bytes),
                None => batch.delete(id),
            }
            for (kind, due) in change.dues_before.iter().filter(|d| !change.dues_after.contains(d)) {
                batch.delete_cf(timers, due_key(*kind, *due, id));
            }
            for (kind, due) in change.dues_after.iter().filter(|d| !change.dues_before.contains(d)) {
                batch.put_cf(timers, due_key(*kind, *due, id), []);
            }
        }
        put_offsets(&mut batch, meta, next_offsets.iter().copied());
        if let Some(next) = changelog_next {
            batch.put_cf(meta, CHANGELOG_NEXT_KEY, next.to_le_bytes());
        }
        if crate::failpoint::fails(crate::failpoint::STORE_WRITE) {
            return Err(StoreError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("failpoint store_write: the batch write failed"),
            });
        }
        self.db.write(batch).map_err(|source| StoreError::RocksDb {
            path: self.path.clone(),
            source,
        })?;
        if self.cache.len() > self.capacity {
            // only clean entries are dropped; the first `capacity` of the rest stay
            let mut keep = self.capacity;
            self.cache.retain(|_, entry| {
                let kept = entry.dirty || keep > 0;
                keep = keep.saturating_sub(1);
                kept
            });
        }
        Ok(())
    }

    /// Applies changelog records read during a restore: customer states (a `None` value deletes
    /// the customer) and input offsets, with the changelog position reached, in one batch.
    /// Timer index entries are added for the restored states; entries of states replaced or
    /// deleted stay behind as hints that [`due_customers`](Self::due_customers) cleans up.
    pub fn restore(
        &mut self,
        catalog: &Catalog,
        states: &[(Vec<u8>, Option<Vec<u8>>)],
        input_offsets: &BTreeMap<String, i64>,
        changelog_next: i64,
    ) -> Result<(), StoreError> {
        let meta = self.meta()?;
        let timers = self.timers()?;
        let mut batch = WriteBatch::default();
        for (key, value) in states {
            match value {
                Some(bytes) => {
                    batch.put(key, bytes);
                    if let Ok(state) = codec::decode(catalog, bytes) {
                        for (kind, due) in state.dues(catalog) {
                            batch.put_cf(timers, due_key(kind, due, key), []);
                        }
                    }
                }
                None => batch.delete(key),
            }
        }
        put_offsets(
            &mut batch,
            meta,
            input_offsets.iter().map(|(topic, next)| (topic.as_str(), *next)),
        );
        batch.put_cf(meta, CHANGELOG_NEXT_KEY, changelog_next.to_le_bytes());
        self.cache.clear();
        self.dirty = 0;
        self.db.write(batch).map_err(|source| StoreError::RocksDb {
            path: self.path.clone(),
            source,
        })
    }

    /// Deletes the local database (state that disagrees with the changelog) and opens it empty.
    pub fn wipe(self) -> Result<PartitionStore, StoreError> {
        let (capacity, root, partition) = (self.capacity, self.root.clone(), self.partition);
        let path = self.path.clone();
        drop(self.db);
        std::fs::remove_dir_all(&path).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        PartitionStore::open(&root, partition, capacity)
    }

    /// Drops cached state (after a use-case reload, or when changes must be discarded).
    pub fn clear_cache(&mut self) {
        self.cache.clear();
        self.dirty = 0;
    }

    /// Customers stored on disk, as RocksDB estimates them (recent deletes may still count).
    pub fn estimated_customers(&self) -> u64 {
        self.db
            .property_int_value("rocksdb.estimate-num-keys")
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// Bytes of state on disk (SST files) plus memtables.
    pub fn approximate_bytes(&self) -> u64 {
        let sst = self
            .db
            .property_int_value("rocksdb.total-sst-files-size")
            .ok()
            .flatten()
            .unwrap_or(0);
        let mem = self
            .db
            .property_int_value("rocksdb.cur-size-all-mem-tables")
            .ok()
            .flatten()
            .unwrap_or(0);
        sst + mem
    }

    /// Flushes memtables to disk and closes the database (on revoke and shutdown).
    pub fn close(self) -> Result<(), StoreError> {
        self.db.flush().map_err(|source| StoreError::RocksDb {
            path: self.path.clone(),
            source,
        })
    }
}

/// The next offset of each input topic, into the `meta` column family of `batch`.
fn put_offsets<'t>(
    batch: &mut WriteBatch,
    meta: &rocksdb::ColumnFamily,
    offsets: impl Iterator<Item = (&'t str, i64)>,
) {
    for (topic, next) in offsets {
        batch.put_cf(meta, format!("{NEXT_OFFSET_PREFIX}{topic}"), next.to_le_bytes());
    }
}
