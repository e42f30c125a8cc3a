//! The state disk failing: the `store_write` failpoint fails one checkpoint batch write in 20
//! (the engine exits; the changelog and transaction already hold what the batch had), and a full
//! state disk — a small tmpfs under the state directory filled up mid-run, then freed.

use crate::suite::scenario::{BrokerKind, Scenario};
use crate::suite::Guarantee;
use crate::{lines, under_failpoint, workload};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const STORE_WRITE: &str = "store_write:0.05";

#[test]
fn rocksdb_write_failures_at_least_once_on_tansu() {
    under_failpoint(
        BrokerKind::Tansu,
        Guarantee::AtLeastOnce,
        "fault-store-alo",
        STORE_WRITE,
    );
}

#[test]
fn rocksdb_write_failures_exactly_once_on_tansu() {
    under_failpoint(
        BrokerKind::Tansu,
        Guarantee::ExactlyOnce,
        "fault-store-eos",
        STORE_WRITE,
    );
}

/// A tmpfs mounted on a directory, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` when this process may not mount (not root, or no mount capability).
    fn mount(dir: &Path, megabytes: u32) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` with `dir/filler` until a write fails.
fn fill(dir: &Path) -> u64 {
    let mut file = std::fs::File::create(dir.join("filler")).expect("filler");
    let block = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    while file.write_all(&block).is_ok() {
        written += block.len() as u64;
    }
    // the last partial block
    let _ = file.write_all(&block[..512]);
    let _ = file.sync_all();
    written
}

#[test]
fn full_state_disk_at_least_once_on_tansu() {
    let mut scenario = Scenario::start_on(
        BrokerKind::Tansu,
        "fault-disk-alo",
        Guarantee::AtLeastOnce,
        lines(workload()),
    );
    let mut engine = scenario.instance("engine-0");
    let Some(disk) = Tmpfs::mount(&engine.state_dir(), 512) else {
        println!("SKIPPED: mounting a tmpfs for the state directory needs root (CAP_SYS_ADMIN)");
        return;
    };
    engine.spawn();
    engine.wait_ready();
    let feeder = scenario.feed(500);
    std::thread::sleep(scenario.dice.millis(2_000, 4_000));
    let filled = fill(&disk.0);
    scenario.say(&format!(
        "fault schedule: state disk full ({} MB filler written); kept full until the engine fails, at most 20 s",
        filled / 1_000_000
    ));
    let full = Instant::now();
    while engine.exits == 0 && full.elapsed() < Duration::from_secs(20) {
        engine.revive_if_exited();
        std::thread::sleep(Duration::from_millis(100));
    }
    let failed_after = full.elapsed();
    // a few restarts on the full disk, as Kubernetes would do
    std::thread::sleep(Duration::from_secs(3));
    engine.revive_if_exited();
    std::fs::remove_file(disk.0.join("filler")).expect("free the disk");
    let freed = Instant::now();
    scenario.say(&format!(
        "disk freed; the engine {} ({} exit(s) so far)",
        if engine.exits > 0 {
            format!("failed {:.1} s after the disk filled", failed_after.as_secs_f64())
        } else {
            "did not fail while the disk was full".to_string()
        },
        engine.exits
    ));
    while !engine.ready() {
        assert!(freed.elapsed() < Duration::from_secs(90), "{}", engine.log_tail());
        std::thread::sleep(Duration::from_millis(100));
    }
    scenario.say(&format!(
        "recovered: ready {:.1} s after the disk was freed",
        freed.elapsed().as_secs_f64()
    ));
    crate::keep_alive_while(&feeder, &mut [&mut engine]);
    scenario.finish(feeder, &mut [&mut engine], &[]);
    drop(disk);
}
