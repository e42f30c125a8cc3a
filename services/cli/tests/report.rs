//! `revenue-engine report`: the HTML page from a summary file and from a (canned) Prometheus,
//! refusal of a bad summary, and a real screenshot in headless Chromium.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use revenue_core::measure::{lift, GroupTotals, Interval};
use revenue_replay::ReplaySummary;
use revenue_replay::{Kpis, Measurement, PolicyOutcomes, StageSummary, TierSummary, UseCaseSummary};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{engine, repo, text};

/// Totals of a group whose converted customers spent `mean` ± `sd` each.
fn group(exposed: u64, converted: u64, mean: f64, sd: f64) -> GroupTotals {
    let revenue = converted as f64 * mean;
    GroupTotals {
        exposed,
        converted,
        conversions: converted + converted / 10,
        revenue,
        revenue_squared: converted as f64 * (mean * mean + sd * sd),
    }
}

fn measured(holdout_share: f64, treatment: GroupTotals, control: GroupTotals) -> Option<Measurement> {
    Some(Measurement {
        holdout_share,
        treatment,
        control,
        lift: lift(&treatment, &control),
    })
}

fn map<V: Clone>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// Four use cases: a planted significant lift, an insignificant one, one without a control
/// group, and lead scoring with a funnel. Labels carry markup that must come out escaped.
fn fixture() -> ReplaySummary {
    let recs_t = group(18_000, 1_530, 420.0, 200.0);
    let recs_c = group(2_000, 120, 410.0, 200.0);
    let cross_t = group(6_400, 410, 380.0, 250.0);
    let cross_c = group(700, 43, 390.0, 250.0);
    let recs = UseCaseSummary {
        id: "distributor-product-recs".into(),
        version: 4,
        status: "live".into(),
        evaluations: 250_000,
        actions: 21_400,
        tiers: vec![TierSummary {
            tier: "web".into(),
            action_type: "recommendation".into(),
            channel: "web".into(),
            actions: 12_000,
        }],
        actions_by_channel: map(&[("web", 12_000), ("email", 7_400), ("crm", 2_000)]),
        customers_reached: 18_000,
        priority: 50,
        channels: vec!["web".into(), "email".into(), "crm".into()],
        labels: map(&[
            ("region", "EMEA".to_string()),
            ("business_unit", "R&D <distribution>".to_string()),
        ]),
        policy: PolicyOutcomes {
            suppressed: map(&[("holdout", 2_000), ("cap", 1_250), ("consent", 310), ("cooldown", 880)]),
            deferred: 420,
            deferred_delivered: 401,
        },
        measurement: measured(0.1, recs_t, recs_c),
        cost_by_channel: map(&[("web", 0.0), ("email", 740.0), ("crm", 8_000.0)]),
        cost: 8_740.0,
        ..Default::default()
    };
    let cross = UseCaseSummary {
        id: "telecom-cross-sell".into(),
        version: 2,
        status: "live".into(),
        evaluations: 90_000,
        actions: 6_400,
        actions_by_channel: map(&[("campaign", 5_100), ("telemarketing", 1_300)]),
        customers_reached: 6_400,
        priority: 40,
        channels: vec!["campaign".into(), "telemarketing".into()],
        labels: map(&[("region", "DACH".to_string()), ("business_unit", "telecom".to_string())]),
        policy: PolicyOutcomes {
            suppressed: map(&[("holdout", 700), ("quiet_hours", 95), ("arbitration", 1_130)]),
            ..Default::default()
        },
        measurement: measured(0.1, cross_t, cross_c),
        cost_by_channel: map(&[("campaign", 2_550.0), ("telemarketing", 19_500.0)]),
        cost: 22_050.0,
        ..Default::default()
    };
    let warmup = UseCaseSummary {
        id: "warmup-escalation".into(),
        version: 1,
        status: "shadow".into(),
        evaluations: 12_000,
        actions: 380,
        actions_by_channel: map(&[("telemarketing", 380)]),
        customers_reached: 377,
        channels: vec!["telemarketing".into()],
        labels: map(&[("region", "EMEA".to_string()), ("business_unit", "telecom".to_string())]),
        policy: PolicyOutcomes {
            suppressed: map(&[("cooldown", 64), ("quiet_hours", 12)]),
            ..Default::default()
        },
        ..Default::default()
    };
    let stage = |stage: &str, reached, conv, days| StageSummary {
        stage: stage.into(),
        reached,
        conversion_from_previous: conv,
        median_days_from_previous: days,
        median_days_from_first_seen: days,
    };
    let leads = UseCaseSummary {
        id: "lead-scoring".into(),
        version: 3,
        status: "live".into(),
        evaluations: 310_000,
        actions: 1_240,
        actions_by_channel: map(&[("crm", 1_240)]),
        customers_reached: 1_240,
        channels: vec!["crm".into()],
        labels: map(&[
            ("region", "Nordics".to_string()),
            ("business_unit", "distribution".to_string()),
        ]),
        funnel: vec![
            stage("MQL", 1_240, None, None),
            stage("SAL", 610, Some(610.0 / 1_240.0), Some(3.5)),
            stage("SQL", 212, Some(212.0 / 610.0), Some(11.0)),
        ],
        cost_by_channel: map(&[("crm", 1_240.0)]),
        cost: 1_240.0,
        ..Default::default()
    };
    let mut use_cases = vec![recs, cross, warmup, leads];
    for uc in &mut use_cases {
        let incremental = uc
            .measurement
            .as_ref()
            .and_then(|m| m.lift?.incremental_revenue)
            .map(|i| i.estimate);
        uc.roi = incremental.and_then(|i| revenue_core::measure::roi(i, uc.cost));
    }
    let incremental: f64 = use_cases
        .iter()
        .filter_map(|uc| uc.measurement.as_ref()?.lift?.incremental_revenue)
        .map(|i| i.estimate)
        .sum();
    let cost: f64 = use_cases.iter().map(|uc| uc.cost).sum();
    ReplaySummary {
        lines: 1_204_311,
        events: 1_204_000,
        customers: 48_210,
        malformed: 311,
        actions: 29_420,
        use_cases,
        kpis: Kpis {
            use_cases: 4,
            live_use_cases: 3,
            channels: ["campaign", "crm", "email", "telemarketing", "web"]
                .map(String::from)
                .to_vec(),
            regions: ["DACH", "EMEA", "Nordics"].map(String::from).to_vec(),
            business_units: ["R&D <distribution>", "distribution", "telecom"]
                .map(String::from)
                .to_vec(),
            attributable_revenue: recs_t.revenue + cross_t.revenue,
            incremental_revenue: incremental,
            cost,
            roi: revenue_core::measure::roi(incremental, cost),
            attribution_window_days: Some(30.0),
        },
        ..Default::default()
    }
}

/// Formats like the report, written independently: thousands separators, typographic minus.
fn expected_number(x: f64, decimals: usize, signed: bool) -> String {
    let digits = format!("{:.*}", decimals, x.abs());
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if !frac.is_empty() {
        grouped = format!("{grouped}.{frac}");
    }
    match (x < 0.0, signed) {
        (true, _) => format!("\u{2212}{grouped}"),
        (false, true) => format!("+{grouped}"),
        (false, false) => grouped,
    }
}

fn expected_pp(i: &Interval) -> String {
    let f = |x: f64| expected_number(x * 100.0, if x.abs() < 0.01 { 2 } else { 1 }, true) + " pp";
    format!("{} [{}, {}]", f(i.estimate), f(i.lower), f(i.upper))
}

fn expected_amount(i: &Interval) -> String {
    let f = |x: f64| expected_number(x, if x.abs() >= 100.0 { 0 } else { 2 }, true);
    format!("{} [{}, {}]", f(i.estimate), f(i.lower), f(i.upper))
}

fn write_fixture(dir: &Path) -> PathBuf {
    let path = dir.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&fixture()).unwrap()).unwrap();
    path
}

fn render(summary: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "report",
        "--summary",
        summary.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--title",
        "Q3 use-case review",
    ];
    args.extend_from_slice(extra);
    let run = engine(&args);
    assert!(run.status.success(), "{}", text(&run.stderr));
    std::fs::read_to_string(out).unwrap()
}

/// No resource outside the page: no script, link, image, stylesheet import or URL, except the
/// SVG namespace (an identifier, never fetched) and `shown`, text naming the data source.
fn assert_self_contained(html: &str, shown: &[&str]) {
    let mut stripped = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for text in shown {
        stripped = stripped.replace(text, "");
    }
    for forbidden in [
        "http://", "https://", "<script", "src=", "href=", "url(", "@import", "<link", "<img", "<iframe",
    ] {
        assert!(
            !stripped.contains(forbidden),
            "report refers outside itself: {forbidden}"
        );
    }
}

#[test]
fn report_from_a_summary_is_self_contained_with_a_chart_per_figure() {
    let dir = tempfile::tempdir().unwrap();
    let html = render(&write_fixture(dir.path()), &dir.path().join("report.html"), &[]);
    assert_self_contained(&html, &[]);
    assert!(html.contains("<title>Q3 use-case review</title>"));
    let summary = fixture();
    for uc in &summary.use_cases {
        assert!(html.contains(&uc.id), "{} missing", uc.id);
    }
    // lift and incremental revenue forest plots, reach, then per use case the charts with
    // something to draw: channels, suppressions, treatment vs control, funnel
    let count = |f: &dyn Fn(&UseCaseSummary) -> bool| summary.use_cases.iter().filter(|uc| f(uc)).count();
    let expected_svgs = 3
        + count(&|uc| !uc.actions_by_channel.is_empty())
        + count(&|uc| !uc.policy.suppressed.is_empty())
        + count(&|uc| uc.measurement.is_some())
        + count(&|uc| !uc.funnel.is_empty());
    assert_eq!(expected_svgs, 3 + 4 + 3 + 2 + 1);
    assert_eq!(html.matches("<svg").count(), expected_svgs);
    // the planted significant lift and the insignificant one, with their intervals
    let significant = summary.use_cases[0].measurement.as_ref().unwrap().lift.unwrap();
    let insignificant = summary.use_cases[1].measurement.as_ref().unwrap().lift.unwrap();
    assert!(significant.significant && !insignificant.significant);
    for lift in [significant, insignificant] {
        let pp = expected_pp(&lift.rate_difference);
        assert!(html.contains(&pp), "{pp} missing");
        let revenue = expected_amount(&lift.incremental_revenue.unwrap());
        assert!(html.contains(&revenue), "{revenue} missing");
    }
    assert!(html.contains("+2.5 pp ["), "8.5 % against 6.0 %");
    // the significant row is highlighted, the other is drawn neutral
    assert!(html.contains(&format!(
        "fill=\"#1a7f37\" font-weight=\"600\">{}",
        expected_pp(&significant.rate_difference)
    )));
    assert!(html.contains(&format!(
        "fill=\"#6e7781\">{}",
        expected_pp(&insignificant.rate_difference)
    )));
    assert!(html.contains("no control group"));
    assert!(html.contains("R&amp;D &lt;distribution&gt;") && !html.contains("R&D <distribution>"));
    // KPI header and readable numbers
    assert!(html.contains("3 of 4"), "degree of automation");
    assert!(html.contains("250,000"), "evaluations with thousands separators");
    assert!(html.contains("30 d"), "attribution window");
    assert!(html.contains("Lead velocity") && html.contains("49.2%") && html.contains("11 d"));
    assert!(
        html.contains("8.5%") && html.contains("6.0%"),
        "treatment and control rates"
    );
}

/// Answers Prometheus instant queries with canned vectors, by the metric the query names;
/// unknown metrics get an empty vector, like a real server. Returns the base URL.
fn canned_prometheus(answers: Vec<(&'static str, &'static str)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // drain the headers
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let target = percent_decode(request_line.split(' ').nth(1).unwrap_or(""));
            let result = answers
                .iter()
                .find(|(metric, _)| target.contains(&format!("({metric})")))
                .map_or("", |(_, result)| result);
            let (status, body) = if result == "error" {
                (
                    "400 Bad Request",
                    r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#.to_string(),
                )
            } else {
                (
                    "200 OK",
                    format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{result}]}}}}"#),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.flush();
            let mut rest = [0u8; 0];
            let _ = stream.read(&mut rest);
        }
    });
    url
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn sample(labels: &str, value: f64) -> String {
    format!(r#"{{"metric":{{{labels}}},"value":[1712345678.9,"{value}"]}}"#)
}

#[test]
fn report_from_prometheus_builds_lift_from_group_totals() {
    let g = |uc: &str, v: [f64; 2]| {
        [
            sample(&format!(r#""use_case":"{uc}","group":"treatment""#), v[0]),
            sample(&format!(r#""use_case":"{uc}","group":"control""#), v[1]),
        ]
        .join(",")
    };
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let answers = vec![
        (
            "revenue_engine_actions_total",
            leak(
                [
                    sample(r#""use_case":"distributor-product-recs","channel":"email""#, 5_000.0),
                    sample(r#""use_case":"distributor-product-recs","channel":"web""#, 9_000.0),
                    sample(r#""use_case":"warmup-escalation","channel":"telemarketing""#, 120.0),
                ]
                .join(","),
            ),
        ),
        (
            "revenue_engine_policy_suppressed_total",
            leak(
                [
                    sample(r#""use_case":"distributor-product-recs","reason":"cap""#, 640.0),
                    sample(r#""use_case":"warmup-escalation","reason":"quiet_hours""#, 33.0),
                ]
                .join(","),
            ),
        ),
        (
            "revenue_engine_use_case_info",
            leak(sample(
                r#""use_case":"distributor-product-recs","version":"4","status":"live""#,
                1.0,
            )),
        ),
        (
            "revenue_engine_attribution_exposures_total",
            leak(g("distributor-product-recs", [12_000.0, 1_300.0])),
        ),
        (
            "revenue_engine_attribution_converted_total",
            leak(g("distributor-product-recs", [1_020.0, 78.0])),
        ),
        (
            "revenue_engine_attribution_conversions_total",
            leak(g("distributor-product-recs", [1_100.0, 80.0])),
        ),
        (
            "revenue_engine_attribution_revenue_total",
            leak(g("distributor-product-recs", [428_400.0, 31_980.0])),
        ),
        (
            "revenue_engine_attribution_revenue_squared_total",
            leak(g(
                "distributor-product-recs",
                [1_020.0 * (420.0f64.powi(2) + 4e4), 78.0 * (410.0f64.powi(2) + 4e4)],
            )),
        ),
        // policy_deferred_total and the rest are missing: zero
    ];
    let url = canned_prometheus(answers);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live.html");
    let run = engine(&["report", "--prometheus", &url, "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let html = std::fs::read_to_string(&out).unwrap();
    assert_self_contained(&html, &[&url]);
    let t = group(12_000, 1_020, 420.0, 200.0);
    let c = group(1_300, 78, 410.0, 200.0);
    let expected = lift(&t, &c).unwrap();
    assert!(
        html.contains(&expected_pp(&expected.rate_difference)),
        "lift from the canned totals"
    );
    assert!(html.contains("warmup-escalation") && html.contains("no control group"));
    assert!(html.contains("14,000"), "actions summed over channels");
    assert!(html.contains("quiet hours"));

    // both: the back-test and the live section, the live one with the back-test's labels
    let both = dir.path().join("both.html");
    let html = render(&write_fixture(dir.path()), &both, &["--prometheus", &url]);
    assert!(html.contains("Back-test (replay)") && html.contains("Live engine (Prometheus)"));
    assert!(
        html.matches("EMEA").count() >= 2,
        "labels carried over to the live section"
    );
}

#[test]
fn prometheus_errors_are_reported_not_panicked() {
    let url = canned_prometheus(vec![("revenue_engine_use_case_evaluations_total", "error")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let run = engine(&["report", "--prometheus", &url, "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("revenue_engine_use_case_evaluations_total") && stderr.contains("parse error"),
        "{stderr}"
    );
    // nothing listens on a closed port
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let run = engine(&[
        "report",
        "--prometheus",
        &format!("http://{closed}"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("hint:"), "{}", text(&run.stderr));
    assert!(!out.exists());
}

#[test]
fn bad_summary_is_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let bad = dir.path().join("not-a-summary.json");
    std::fs::write(&bad, r#"{"use_cases": "nope"}"#).unwrap();
    for (path, what) in [
        (bad.clone(), "is not a replay summary"),
        (dir.path().join("missing.json"), "cannot read summary"),
    ] {
        let run = engine(&[
            "report",
            "--summary",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(2));
        let stderr = text(&run.stderr);
        assert!(
            stderr.contains(path.to_str().unwrap()) && stderr.contains(what),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let run = engine(&["report", "--out", out.to_str().unwrap()]);
    assert!(!run.status.success(), "neither --summary nor --prometheus");
    assert!(!out.exists());
}

/// Width and height from the IHDR chunk, which follows the 8-byte signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR");
    let be = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (be(16), be(20))
}

fn screenshot(html: &Path, png: &Path) {
    let run = Command::new("bash")
        .arg(repo().join("scripts/report-screenshot.sh"))
        .arg(html)
        .arg(png)
        .output()
        .expect("bash runs");
    assert!(run.status.success(), "{}{}", text(&run.stdout), text(&run.stderr));
}

#[test]
fn report_screenshot_in_headless_chromium() {
    let has_chromium = Command::new("sh")
        .args(["-c", "command -v chromium"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_chromium {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "chromium is required on CI (scripts/install-system-deps.sh installs it)"
        );
        eprintln!("skipped: chromium is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    render(&write_fixture(dir.path()), &report, &[]);
    let blank = dir.path().join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let (report_png, blank_png) = (dir.path().join("report.png"), dir.path().join("blank.png"));
    screenshot(&report, &report_png);
    screenshot(&blank, &blank_png);
    let bytes = std::fs::read(&report_png).unwrap();
    assert_eq!(png_size(&bytes), (1280, 2400));
    let blank_len = std::fs::metadata(&blank_png).unwrap().len();
    assert!(
        bytes.len() as u64 > 5 * blank_len,
        "the report screenshot ({} bytes) looks blank (an empty page: {blank_len} bytes)",
        bytes.len()
    );
    if let Ok(keep) = std::env::var("REPORT_SCREENSHOT_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&report_png, Path::new(&keep).join("report.png")).unwrap();
    }
}
