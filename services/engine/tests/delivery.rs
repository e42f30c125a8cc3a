//! Deliveries that fail, on librdkafka's mock cluster: an oversized dead letter is cut to fit
//! instead of failing; a delivery that fails anyway stops the engine before anything of its
//! checkpoint becomes restorable, so the restart processes it again (no dead letter, no action
//! lost); an action that cannot be encoded is dead-lettered and counted, never dropped.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use common::{benchmark_cluster, benchmark_use_cases_edited, config, decode_actions, launch, line};
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::types::RDKafkaRespErr;
use revenue_engine::EngineError;
use revenue_testkit::{
    bench_lines, offline_run, produce_keyed, produce_lines, producer, read_all, wait_for, ACTION_TOPICS, DEAD_LETTERS,
};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

const GROUPS: [&str; 4] = ["oversize", "dead-letter-fails", "action-fails", "encode"];

#[test]
fn an_oversized_bad_event_is_dead_lettered_cut_to_fit_and_the_partition_goes_on() {
    let cluster = benchmark_cluster(&GROUPS);
    let bootstrap = cluster.bootstrap_servers();
    let state = tempfile::tempdir().expect("state dir");
    let engine = launch(config(&bootstrap, state.path(), "oversize"));
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(Ordering::Relaxed)
    });
    let key = "c-big";
    // ~1 MB of broken JSON: within the producer's limit, but not with the dead letter's headers
    let prefix = r#"{"customer_id":"c-big","type":"page_view","note":""#;
    let big = format!("{prefix}{}", "x".repeat(999_900 - prefix.len()));
    produce_keyed(
        &bootstrap,
        &[line(key, "page_view", 1), line(key, "page_view", 2)],
        |_| key.to_string(),
    );
    let producer = producer(&bootstrap);
    producer
        .send(
            BaseRecord::<str, str>::to(revenue_testkit::INPUT)
                .key(key)
                .payload(&big),
        )
        .map_err(|(e, _)| e)
        .expect("a 1 MB message is within the test producer's limit");
    producer.flush(Duration::from_secs(10)).expect("flush");
    produce_keyed(
        &bootstrap,
        &[line(key, "email_click", 3), line(key, "page_view", 4)],
        |_| key.to_string(),
    );
    wait_for("all events consumed", Duration::from_secs(60), || {
        engine.status.events_in.load(Ordering::Relaxed) >= 5
    });
    engine.stop();
    let report = engine
        .join()
        .expect("the dead letter fits: the engine goes on and stops cleanly");
    assert_eq!(report.dead_letters.get("invalid_json"), Some(&1));

    let dead = read_all(&bootstrap, &[DEAD_LETTERS], 1);
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    assert_eq!(letter.headers["payload_truncated"], "true");
    assert_eq!(letter.headers["original_size"], big.len().to_string());
    assert_eq!(letter.headers["reason"], "invalid_json");
    assert!(letter.payload.len() < big.len() && letter.payload.len() > 990_000);
    assert!(
        big.as_bytes().starts_with(&letter.payload),
        "the cut copy is the message's start"
    );
    // the events behind it were processed: the second page view after a click warms up
    let actions = decode_actions(&read_all(&bootstrap, &ACTION_TOPICS, 1));
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["action_type"], "warmup_email");
}

/// The broker refuses every record to `failing` (authorisation); the engine must stop before its
/// checkpoint reaches the changelog. With the topic allowed again, a restart on the same disk
/// delivers everything: the poison's dead letter and every action of the workload.
fn a_failed_delivery_is_processed_again_after_the_restart(failing: &str, group: &str) {
    let cluster = benchmark_cluster(&GROUPS);
    let bootstrap = cluster.bootstrap_servers();
    cluster
        .topic_error(failing, RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
        .expect("topic error");
    let state = tempfile::tempdir().expect("state dir");
    let lines = bench_lines(5_000, 500);
    let expected = offline_run(&lines).action_ids;
    let engine = launch(config(&bootstrap, state.path(), group));
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(Ordering::Relaxed)
    });
    produce_lines(&bootstrap, &lines);
    // after the workload, so no workload event moves: a message no decoder accepts
    let poison = "{\"customer_id\":\"c-poison\",".to_string();
    produce_keyed(&bootstrap, std::slice::from_ref(&poison), |_| "c-poison".into());
    wait_for(
        "the engine stops on the failed delivery",
        Duration::from_secs(150),
        || engine.is_finished(),
    );
    match engine.join() {
        Err(EngineError::Delivery { failed, last }) => println!("{failing}: {failed} failed, last: {last}"),
        other => panic!("expected a delivery error, got {other:?}"),
    }

    cluster
        .topic_error(failing, RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR)
        .expect("topic allowed again");
    let engine = launch(config(&bootstrap, state.path(), group));
    let dead = read_all(&bootstrap, &[DEAD_LETTERS], 1);
    let received = read_all(&bootstrap, &ACTION_TOPICS, expected.len());
    engine.stop();
    engine.join().expect("the restarted engine stops cleanly");

    let poison_letters = dead.iter().filter(|d| d.payload == poison.as_bytes()).count();
    assert_eq!(poison_letters, 1, "the poison is dead-lettered after the restart");
    let got: HashSet<String> = decode_actions(&received)
        .iter()
        .filter_map(|a| a["action_id"].as_str().map(str::to_string))
        .collect();
    let missing = expected.difference(&got).count();
    assert_eq!(missing, 0, "{missing} of {} actions lost", expected.len());
    assert!(got.is_subset(&expected), "nothing but the workload's actions");
}

#[test]
fn a_dead_letter_that_fails_to_deliver_is_written_after_the_restart() {
    a_failed_delivery_is_processed_again_after_the_restart(DEAD_LETTERS, "dead-letter-fails");
}

#[test]
fn actions_that_fail_to_deliver_are_produced_after_the_restart() {
    a_failed_delivery_is_processed_again_after_the_restart(ACTION_TOPICS[1], "action-fails");
}

#[test]
fn an_action_that_cannot_be_encoded_is_dead_lettered_and_counted() {
    let cluster = benchmark_cluster(&GROUPS);
    let bootstrap = cluster.bootstrap_servers();
    let state = tempfile::tempdir().expect("state dir");
    // a version the action schema's `int` cannot hold: every action fails to encode as Avro
    let use_cases = benchmark_use_cases_edited(|_, text| text.replace("version: 1\n", "version: 4294967295\n"));
    let mut config = config(&bootstrap, state.path(), "encode");
    config.use_cases.dir = use_cases.path().to_path_buf();
    let engine = launch(config);
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(Ordering::Relaxed)
    });
    let key = "c-encode";
    let events = [
        line(key, "page_view", 1),
        line(key, "page_view", 2),
        line(key, "email_click", 3),
        line(key, "page_view", 4),
    ];
    produce_keyed(&bootstrap, &events, |_| key.to_string());
    wait_for("all events consumed", Duration::from_secs(60), || {
        engine.status.events_in.load(Ordering::Relaxed) >= 4
    });
    engine.stop();
    let metrics = engine.metrics.clone();
    let report = engine.join().expect("stops cleanly");
    assert_eq!(report.dead_letters.get("encode_failed"), Some(&1));
    let counted = metrics
        .dead_letters
        .with(&revenue_engine::metrics::labels::DeadLetterReason {
            reason: "encode_failed",
        })
        .get();
    assert_eq!(
        counted, 1,
        "revenue_engine_dead_letters_total{{reason=\"encode_failed\"}}"
    );

    let dead = read_all(&bootstrap, &[DEAD_LETTERS], 1);
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    assert_eq!(letter.headers["reason"], "encode_failed");
    assert_eq!(letter.headers["use_case_id"], "funnel-benchmark");
    assert_eq!(letter.headers["action_topic"], ACTION_TOPICS[1]);
    assert!(!letter.headers["error"].is_empty());
    assert_eq!(letter.key.as_deref(), Some(key.as_bytes()));
    let action: serde_json::Value = serde_json::from_slice(&letter.payload).expect("the action as JSON");
    assert_eq!(action["action_type"], "warmup_email");
    assert_eq!(action["action_id"], letter.headers["action_id"].as_str());
    assert!(
        read_all(&bootstrap, &ACTION_TOPICS, 0).is_empty(),
        "nothing was sent as an action"
    );
}
