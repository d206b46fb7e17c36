//! Metrics as JSON lines in the root (`metrics.jsonl`, rotated to `metrics.1.jsonl`): the
//! supervisor's sample of each busy actor at every rescan (messages handled and failed, the
//! rate, queue depth, handling time, restarts), and the values scripts `plot`. One line a
//! sample, appended with one write, so a person can `tail -f` it and tools can read it.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::Root;

/// The file is rotated past this size.
pub const MAX_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When (µs since the epoch).
    pub us: u64,
    pub actor: String,
    #[serde(flatten)]
    pub series: Series,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "series", rename_all = "snake_case")]
pub enum Series {
    /// The supervisor's view of one actor since the last sample.
    Actor {
        /// Messages handled and failed, ever (since the supervisor started).
        handled: u64,
        failed: u64,
        /// Messages finished per second since the last sample.
        rate: f64,
        /// Messages waiting.
        queue: u64,
        /// Mean time from delivery to the end of handling since the last sample.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        handling_ms: Option<f64>,
        restarts: u64,
    },
    /// A value a script plotted (`plot(name, value)`).
    Plot { name: String, value: f64 },
}

/// Appends samples with one write, rotating first past [`MAX_BYTES`].
pub fn append(root: &Root, samples: &[Sample]) -> io::Result<()> {
    if samples.is_empty() {
        return Ok(());
    }
    let path = root.metrics_file();
    if fs::metadata(&path).is_ok_and(|m| m.len() > MAX_BYTES) {
        fs::rename(&path, root.rotated_metrics_file())?;
    }
    let mut lines = Vec::new();
    for sample in samples {
        serde_json::to_writer(&mut lines, sample).map_err(io::Error::other)?;
        lines.push(b'\n');
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?
        .write_all(&lines)
}

/// The samples in the last `max_bytes` of the current file (for a live view).
pub fn read_tail(root: &Root, max_bytes: u64) -> Vec<Sample> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = fs::File::open(root.metrics_file()) else {
        return Vec::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(max_bytes);
    let mut text = String::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    // The first line may be cut in half.
    let text = if start == 0 {
        &text[..]
    } else {
        text.split_once('\n').map_or("", |(_, rest)| rest)
    };
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A row of bars for a series of values, the highest full: `▁▂▅█`.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    values
        .iter()
        .map(|v| {
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// Every sample kept, oldest first; lines that are not samples are skipped.
pub fn read(root: &Root) -> Vec<Sample> {
    [root.rotated_metrics_file(), root.metrics_file()]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect::<Vec<Sample>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_lines_and_survive_a_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path());
        let samples = vec![
            Sample {
                us: 1,
                actor: "a".into(),
                series: Series::Actor {
                    handled: 3,
                    failed: 0,
                    rate: 1.5,
                    queue: 2,
                    handling_ms: Some(0.4),
                    restarts: 0,
                },
            },
            Sample {
                us: 2,
                actor: "a".into(),
                series: Series::Plot {
                    name: "temperature".into(),
                    value: 21.5,
                },
            },
        ];
        append(&root, &samples).unwrap();
        fs::write(
            root.metrics_file(),
            fs::read_to_string(root.metrics_file()).unwrap() + "not json\n",
        )
        .unwrap();
        assert_eq!(read(&root), samples);
        let text = fs::read_to_string(root.metrics_file()).unwrap();
        assert!(
            text.lines().next().unwrap().contains(r#""series":"actor""#),
            "{text}"
        );
        assert_eq!(read_tail(&root, 1 << 20), samples);
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0]), "▁▃▅█");
        assert_eq!(sparkline(&[0.0, 0.0]), "▁▁");
    }
}
