//! `eos metrics`: each actor's latest figures from `metrics.jsonl` (messages handled and
//! failed, rate, queue, handling time, restarts) and the last value of every series scripts
//! plot; `--prometheus` prints them in the Prometheus text format for existing dashboards.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Value, json};

use super::output::{BOLD, DIM, Output, styled};
use crate::Root;
use crate::metrics::{self, Series};

#[derive(Default)]
struct Latest {
    actor: Option<(u64, Series)>,
    /// Each plotted series: its last value and how many samples it has.
    plots: BTreeMap<String, (f64, u64)>,
}

pub fn run(root: &Root, out: &Output, prometheus: bool) -> Result<ExitCode> {
    let mut latest: BTreeMap<String, Latest> = BTreeMap::new();
    for sample in metrics::read(root) {
        let entry = latest.entry(sample.actor).or_default();
        match sample.series {
            Series::Plot { name, value } => {
                let plot = entry.plots.entry(name).or_insert((value, 0));
                *plot = (value, plot.1 + 1);
            }
            series @ Series::Actor { .. } => entry.actor = Some((sample.us, series)),
        }
    }
    if prometheus {
        out.raw(exposition(&latest))?;
        return Ok(ExitCode::SUCCESS);
    }
    if !out.json_mode() {
        if latest.is_empty() {
            out.say(styled(
                DIM,
                format!("no metrics yet in {}", root.metrics_file().display()),
            ))?;
        } else {
            out.say(styled(
                BOLD,
                format!(
                    "{:<16} {:>8} {:>7} {:>8} {:>6} {:>12} {:>9}  PLOTS",
                    "ID", "HANDLED", "FAILED", "MSG/S", "QUEUE", "HANDLING_MS", "RESTARTS"
                ),
            ))?;
        }
        for (actor, l) in &latest {
            let plots: Vec<String> = l
                .plots
                .iter()
                .map(|(name, (value, _))| format!("{name}={value}"))
                .collect();
            let figures = match &l.actor {
                Some((
                    _,
                    Series::Actor {
                        handled,
                        failed,
                        rate,
                        queue,
                        handling_ms,
                        restarts,
                    },
                )) => format!(
                    "{handled:>8} {failed:>7} {rate:>8.1} {queue:>6} {:>12} {restarts:>9}",
                    handling_ms.map_or("-".into(), |h| format!("{h:.2}"))
                ),
                _ => format!(
                    "{:>8} {:>7} {:>8} {:>6} {:>12} {:>9}",
                    "-", "-", "-", "-", "-", "-"
                ),
            };
            out.say(format!("{actor:<16} {figures}  {}", plots.join(" ")))?;
        }
    }
    let data: BTreeMap<&String, Value> = latest
        .iter()
        .map(|(actor, l)| {
            let plots: BTreeMap<&String, Value> = l
                .plots
                .iter()
                .map(|(n, (v, count))| (n, json!({"last": v, "samples": count})))
                .collect();
            let figures = l
                .actor
                .as_ref()
                .map_or(Value::Null, |(us, s)| json!({"us": us, "series": s}));
            (actor, json!({"actor": figures, "plots": plots}))
        })
        .collect();
    out.data(&data)?;
    Ok(ExitCode::SUCCESS)
}

/// The Prometheus text exposition format: HELP and TYPE, then one line a label set.
fn exposition(latest: &BTreeMap<String, Latest>) -> String {
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut out = String::new();
    let families: [(&str, &str, &str); 6] = [
        (
            "eos_messages_handled_total",
            "counter",
            "Messages each actor handled.",
        ),
        (
            "eos_messages_failed_total",
            "counter",
            "Messages each actor failed (set aside in dead/).",
        ),
        (
            "eos_messages_per_second",
            "gauge",
            "Messages each actor finished per second, lately.",
        ),
        (
            "eos_queue_depth",
            "gauge",
            "Messages waiting for each actor.",
        ),
        (
            "eos_handling_seconds",
            "gauge",
            "Mean time from delivery to the end of handling, lately.",
        ),
        (
            "eos_restarts_total",
            "counter",
            "Times each actor was started again.",
        ),
    ];
    for (name, kind, help) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (actor, l) in latest {
            let Some((
                _,
                Series::Actor {
                    handled,
                    failed,
                    rate,
                    queue,
                    handling_ms,
                    restarts,
                },
            )) = &l.actor
            else {
                continue;
            };
            let value = match name {
                "eos_messages_handled_total" => *handled as f64,
                "eos_messages_failed_total" => *failed as f64,
                "eos_messages_per_second" => *rate,
                "eos_queue_depth" => *queue as f64,
                "eos_handling_seconds" => match handling_ms {
                    Some(ms) => ms / 1000.0,
                    None => continue,
                },
                _ => *restarts as f64,
            };
            let _ = writeln!(out, "{name}{{actor=\"{}\"}} {value}", escape(actor));
        }
    }
    let _ = writeln!(
        out,
        "# HELP eos_plot The last value each script plotted (plot(name, value)).\n# TYPE eos_plot gauge"
    );
    for (actor, l) in latest {
        for (name, (value, _)) in &l.plots {
            let _ = writeln!(
                out,
                "eos_plot{{actor=\"{}\",name=\"{}\"}} {value}",
                escape(actor),
                escape(name)
            );
        }
    }
    out
}
