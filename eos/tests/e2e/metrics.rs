//! Metrics: the supervisor's samples and what scripts plot, in metrics.jsonl, read by
//! `eos metrics` (and `--prometheus`) and drawn by `eos watch`.

use crate::support::*;

const PLOTTER: &str = r#"
pub fn init() { #{ n: 0 } }
pub fn handle(state, msg) {
    state.n += 1;
    plot("temperature", 20 + state.n);
    plot("load", 0.5);
    state
}
"#;

#[test]
fn samples_and_plots_are_kept_and_shown_in_both_formats() {
    let mut sys = System::new();
    sys.start();
    let script = sys.script("plotter.rn", PLOTTER);
    sys.spawn_script("p", &script, &[]);
    for n in 0..3 {
        sys.send("p", &format!("m{n}"), "{}");
    }
    wait_until("p handled three", || sys.state("p")["n"] == 3);
    wait_until("a sample counts them", || {
        let m = json_of(&sys.eos(&["--json", "metrics"]));
        m["p"]["actor"]["series"]["handled"] == 3
    });
    let m = json_of(&sys.eos(&["--json", "metrics"]));
    assert_eq!(m["p"]["plots"]["temperature"]["last"], 23.0);
    assert_eq!(m["p"]["plots"]["temperature"]["samples"], 3);
    assert!(
        m["p"]["actor"]["series"]["handling_ms"].as_f64().is_some(),
        "{m}"
    );

    let table = ok(&sys.eos(&["metrics"]));
    assert!(table.contains("temperature=23"), "{table}");
    let text = ok(&sys.eos(&["metrics", "--prometheus"]));
    assert!(
        text.contains("# TYPE eos_messages_handled_total counter"),
        "{text}"
    );
    assert!(
        text.contains("eos_messages_handled_total{actor=\"p\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("eos_plot{actor=\"p\",name=\"temperature\"} 23"),
        "{text}"
    );
    // Every line is a comment or `name{labels} value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(
            series.starts_with("eos_") && series.ends_with('}'),
            "{line}"
        );
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    // The live view draws the rate's history.
    let watch = json_of(&sys.eos(&["--json", "watch"]));
    let row = watch["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "p")
        .unwrap();
    assert!(!row["rate_history"].as_array().unwrap().is_empty(), "{row}");
}
