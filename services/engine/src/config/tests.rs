use super::*;
use std::path::Path;

fn write(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().expect("temp file");
    std::fs::write(file.path(), text).expect("write");
    file
}

#[test]
fn exactly_once_without_a_changelog_is_refused_with_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("engine.yaml");
    std::fs::write(&file, "kafka:\n  guarantee: exactly_once\nstate:\n  changelog: false\n").expect("write");
    let err = EngineConfig::load_with_env(Some(&file), Vec::new()).expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("state.changelog") && text.contains("engine.yaml"),
        "{text}"
    );
}

#[test]
fn defaults_then_file_then_environment() {
    let file = write("kafka:\n  bootstrap_servers: broker:9092\n  properties:\n    security.protocol: SASL_SSL\nstate:\n  commit_interval_ms: 250\n");
    let env = vec![
        (
            "REVENUE_ENGINE__KAFKA__BOOTSTRAP_SERVERS".to_string(),
            "override:9093".to_string(),
        ),
        ("REVENUE_ENGINE__KAFKA__INPUT_TOPICS".to_string(), "a,b,c".to_string()),
        (
            "REVENUE_ENGINE__KAFKA__PROPERTIES__SASL_USERNAME".to_string(),
            "svc".to_string(),
        ),
        ("REVENUE_ENGINE__OUTPUT__FORMAT".to_string(), "json".to_string()),
        ("UNRELATED".to_string(), "x".to_string()),
    ];
    let config = EngineConfig::load_with_env(Some(file.path()), env).expect("loads");
    assert_eq!(config.kafka.bootstrap_servers, "override:9093");
    assert_eq!(config.kafka.input_topics, ["a", "b", "c"]);
    assert_eq!(config.kafka.properties["security.protocol"], "SASL_SSL");
    assert_eq!(config.kafka.properties["sasl.username"], "svc");
    assert_eq!(config.output.format, OutputFormat::Json);
    assert_eq!(config.state.commit_interval_ms, 250);
    assert_eq!(config.state.cache_customers, 200_000, "untouched default");
}

#[test]
fn the_shipped_example_is_valid_and_documents_the_defaults() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config.example.yaml");
    let config = EngineConfig::load_with_env(Some(&example), vec![]).expect("example loads");
    let mut expected = EngineConfig::default();
    expected.input.schemas = config.input.schemas.clone();
    assert_eq!(config, expected, "the example shows the built-in defaults");
    assert_eq!(config.input.schemas.len(), 2);
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    let file = write("kafka:\n  bootstrap_server: typo:9092\n");
    let err = EngineConfig::load_with_env(Some(file.path()), vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("key `kafka`") || err.contains("kafka"), "{err}");
    assert!(err.contains("bootstrap_server"), "{err}");
    let env = vec![("REVENUE_ENGINE__STATE__CACHE".to_string(), "1".to_string())];
    let err = EngineConfig::load_with_env(None, env).unwrap_err().to_string();
    assert!(err.contains("cache"), "{err}");
}

#[test]
fn bad_values_name_the_key() {
    let file = write("state:\n  commit_interval_ms: soon\n");
    let err = EngineConfig::load_with_env(Some(file.path()), vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("state.commit_interval_ms"), "{err}");
    let file = write("kafka:\n  properties:\n    group.id: other\n");
    let err = EngineConfig::load_with_env(Some(file.path()), vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("kafka.properties.group.id"), "{err}");
    let err = EngineConfig::load_with_env(Some(Path::new("/no/such.yaml")), vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("/no/such.yaml"), "{err}");
}

#[test]
fn audit_section_defaults_off_and_checks_the_sample() {
    let config = EngineConfig::load_with_env(None, vec![]).expect("defaults");
    assert_eq!(config.audit.enabled(), None, "off by default");
    assert_eq!(config.audit.sample, 1.0);
    let file = write("audit:\n  topic: decisions\n  sample: 0.25\n");
    let config = EngineConfig::load_with_env(Some(file.path()), vec![]).expect("loads");
    assert_eq!(config.audit.enabled(), Some(("decisions", 0.25)));
    for bad in ["1.5", "-0.1", "2"] {
        let file = write(&format!("audit:\n  topic: decisions\n  sample: {bad}\n"));
        let err = EngineConfig::load_with_env(Some(file.path()), vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("audit.sample") && err.contains("hint"), "{bad}: {err}");
    }
    let file = write("audit:\n  topik: decisions\n");
    let err = EngineConfig::load_with_env(Some(file.path()), vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("topik"), "{err}");
}

#[test]
fn the_customer_api_needs_a_token_and_never_prints_it() {
    let file = write("http:\n  customer_api:\n    enabled: true\n");
    let err = EngineConfig::load_with_env(Some(file.path()), vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("http.customer_api.token"), "{err}");
    let file = write("http:\n  customer_api:\n    enabled: true\n    token: s3cret\n");
    let config = EngineConfig::load_with_env(Some(file.path()), vec![]).expect("loads");
    assert_eq!(config.http.customer_api.enabled_token(), Some("s3cret"));
    assert!(!format!("{config:?}").contains("s3cret"), "Debug hides the token");
    let dir = tempfile::tempdir().expect("dir");
    let token = dir.path().join("token");
    std::fs::write(&token, "from-file\n").expect("token file");
    let file = write(&format!(
        "http:\n  customer_api:\n    enabled: true\n    token_file: {}\n",
        token.display()
    ));
    let config = EngineConfig::load_with_env(Some(file.path()), vec![]).expect("loads");
    assert_eq!(config.http.customer_api.enabled_token(), Some("from-file"));
    let file = write("http:\n  customer_api:\n    enabled: true\n    token_file: /no/such/token\n");
    let err = EngineConfig::load_with_env(Some(file.path()), vec![])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("http.customer_api.token_file") && err.contains("/no/such/token"),
        "{err}"
    );
    let config = EngineConfig::load_with_env(None, vec![]).expect("defaults");
    assert_eq!(config.http.customer_api.enabled_token(), None, "off by default");
}
