//! `eos fault add|list|rm`, `eos partition A,B / C` and `eos heal`: fault rules as files in
//! `faults/`, which the supervisor reads live (the next message obeys the new set).

use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use super::output::{BOLD, DIM, GOOD, Output, styled};
use super::{messages, rules};
use crate::faults::{Kind, Millis, Rule};
use crate::{ActorId, Root};

/// What `eos fault add` takes.
#[derive(clap::Args)]
pub struct Add {
    /// drop, delay, duplicate, reorder, partition or crash
    #[arg(value_enum)]
    kind: Kind,
    /// The rule's name (its file's) [default: made from the kind and a number]
    #[arg(long)]
    name: Option<String>,
    /// Only messages from this actor ("" for messages from outside)
    #[arg(long)]
    from: Option<String>,
    /// Only messages to this actor
    #[arg(long)]
    to: Option<String>,
    /// Only messages whose payload has these keys and values (JSON)
    #[arg(long)]
    payload: Option<String>,
    /// The chance it fires (0 to 1)
    #[arg(long)]
    probability: Option<f64>,
    /// At most this many times
    #[arg(long)]
    count: Option<u64>,
    /// The seed the chances are drawn from
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// delay/reorder: milliseconds, or a range MIN..MAX
    #[arg(long)]
    ms: Option<String>,
    /// duplicate: how many more
    #[arg(long)]
    copies: Option<u32>,
    /// crash: at the Nth matching delivery (default: when a matching message arrives)
    #[arg(long)]
    after: Option<u64>,
    /// The rule comes and goes in windows of this many ms (which ones: from the seed)
    #[arg(long)]
    flap_ms: Option<u64>,
}

pub fn add(root: &Root, out: &Output, add: Add) -> Result<ExitCode> {
    let ms = add
        .ms
        .as_deref()
        .map(|text| -> Result<Millis> {
            Ok(match text.split_once("..") {
                Some((a, b)) => Millis::Range([a.trim().parse()?, b.trim().parse()?]),
                None => Millis::Fixed(text.trim().parse()?),
            })
        })
        .transpose()
        .map_err(|e| anyhow!("--ms takes milliseconds or MIN..MAX: {e}"))?;
    let rule = Rule {
        from: add.from,
        to: add.to,
        payload: add
            .payload
            .map(|p| messages::parse_json(&p, "--payload"))
            .transpose()?,
        probability: add.probability,
        count: add.count,
        seed: add.seed,
        ms,
        copies: add.copies,
        after: add.after,
        flap_ms: add.flap_ms,
        ..Rule::new(add.kind)
    };
    if rule.kind == Kind::Partition {
        bail!("write a partition with `eos partition A,B / C`");
    }
    let name = add
        .name
        .unwrap_or_else(|| rules::free_name(&root.faults_dir(), rule.kind.as_str()));
    write(root, out, &name, &rule)
}

/// `eos partition A,B / C [/ D…] [--one-way]`: groups that cannot reach each other.
pub fn partition(
    root: &Root,
    out: &Output,
    groups: &[String],
    one_way: bool,
    name: Option<String>,
) -> Result<ExitCode> {
    let text = groups.join(" ");
    let groups: Vec<Vec<String>> = text
        .split('/')
        .map(|g| {
            g.split([',', ' '])
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| {
                    ActorId::parse(a)
                        .map(|_| a.to_owned())
                        .map_err(|e| anyhow!(e))
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    if groups.len() < 2 || groups.iter().any(Vec::is_empty) {
        bail!("say the groups with / between them: `eos partition a,b / c`");
    }
    let rule = Rule {
        groups,
        one_way,
        ..Rule::new(Kind::Partition)
    };
    let name = name.unwrap_or_else(|| rules::free_name(&root.faults_dir(), "partition"));
    write(root, out, &name, &rule)
}

/// `eos heal`: every partition goes.
pub fn heal(root: &Root, out: &Output) -> Result<ExitCode> {
    let mut healed = Vec::new();
    for (name, rule) in all_rules(root) {
        if rule.is_ok_and(|r| r.kind == Kind::Partition) {
            std::fs::remove_file(root.faults_dir().join(format!("{name}.json")))?;
            healed.push(name);
        }
    }
    out.say(if healed.is_empty() {
        "no partition to heal".to_owned()
    } else {
        format!("{} {}", styled(GOOD, "healed"), healed.join(", "))
    })?;
    out.data(&json!({"healed": healed}))?;
    Ok(ExitCode::SUCCESS)
}

pub fn list(root: &Root, out: &Output) -> Result<ExitCode> {
    let all = all_rules(root);
    if !out.json_mode() {
        if all.is_empty() {
            out.say(styled(DIM, "no fault rules"))?;
        }
        for (name, rule) in &all {
            match rule {
                Ok(rule) => {
                    let mut text = serde_json::to_value(rule).unwrap_or(Value::Null);
                    if let Some(map) = text.as_object_mut() {
                        map.remove("kind");
                    }
                    out.say(format!(
                        "{:<20} {:<10} {}",
                        styled(BOLD, name),
                        rule.kind.as_str(),
                        text
                    ))?;
                }
                Err(reason) => out.say(format!(
                    "{name:<20} {}",
                    styled(DIM, format!("not applied: {reason}"))
                ))?,
            }
        }
    }
    let data: Vec<Value> = all
        .iter()
        .map(|(name, rule)| match rule {
            Ok(rule) => json!({"name": name, "rule": rule}),
            Err(reason) => json!({"name": name, "error": reason}),
        })
        .collect();
    out.data(&data)?;
    Ok(ExitCode::SUCCESS)
}

pub fn rm(root: &Root, out: &Output, names: &[String], all: bool) -> Result<ExitCode> {
    rules::remove(out, &root.faults_dir(), names, all, "fault rule")
}

fn write(root: &Root, out: &Output, name: &str, rule: &Rule) -> Result<ExitCode> {
    rule.check().map_err(|e| anyhow!(e))?;
    rules::write(&root.faults_dir(), name, rule)?;
    out.say(format!(
        "{} fault rule {name} ({}); it applies to the next message",
        styled(GOOD, "added"),
        rule.kind.as_str()
    ))?;
    out.data(&json!({"name": name, "rule": rule}))?;
    Ok(ExitCode::SUCCESS)
}

/// Every rule file, by name, with the rule or why it is not one.
fn all_rules(root: &Root) -> Vec<(String, Result<Rule, String>)> {
    rules::read(&root.faults_dir(), Rule::check)
}

/// What `eos chaos` takes: a chance per message for each kind of fault, one seed for all.
#[derive(clap::Args)]
pub struct Chaos {
    /// The seed every chance is drawn from, with each message's id
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Chance a message is dropped
    #[arg(long)]
    drop: Option<f64>,
    /// Chance a message is delayed (by --delay-ms)
    #[arg(long)]
    delay: Option<f64>,
    /// How long a delay is: milliseconds or MIN..MAX
    #[arg(long, default_value = "50..500")]
    delay_ms: String,
    /// Chance a message is delivered twice
    #[arg(long)]
    duplicate: Option<f64>,
    /// Chance a message is held back so that later ones overtake it
    #[arg(long)]
    reorder: Option<f64>,
    /// Chance an actor is killed when a message arrives for it
    #[arg(long)]
    crash: Option<f64>,
    /// Groups cut apart now and then: `a,b/c`
    #[arg(long)]
    partition: Option<String>,
    /// Chance a message across the partition is lost while it is up (1: always)
    #[arg(long, default_value_t = 1.0)]
    partition_rate: f64,
    /// The partition comes and goes in windows of this many ms (which ones: from the seed)
    #[arg(long, default_value_t = 2000)]
    partition_flap_ms: u64,
    /// Remove the chaos rules
    #[arg(long)]
    off: bool,
}

/// `eos chaos --seed S --drop 0.1 …`: writes one seeded rule a kind of fault (`chaos-<kind>`),
/// so the same seed and the same messages give the same faults; `--off` removes them.
pub fn chaos(root: &Root, out: &Output, chaos: Chaos) -> Result<ExitCode> {
    let dir = root.faults_dir();
    for (name, _) in all_rules(root) {
        if name.starts_with("chaos-") {
            std::fs::remove_file(dir.join(format!("{name}.json")))?;
        }
    }
    if chaos.off {
        out.say(format!("{} the chaos rules", styled(GOOD, "removed")))?;
        return Ok(ExitCode::SUCCESS);
    }
    let ms = match chaos.delay_ms.split_once("..") {
        Some((a, b)) => Millis::Range([a.trim().parse()?, b.trim().parse()?]),
        None => Millis::Fixed(chaos.delay_ms.trim().parse()?),
    };
    let base = |kind: Kind, probability: f64| Rule {
        probability: Some(probability),
        seed: chaos.seed,
        ..Rule::new(kind)
    };
    let mut written = Vec::new();
    let kinds = [
        (Kind::Drop, chaos.drop),
        (Kind::Delay, chaos.delay),
        (Kind::Duplicate, chaos.duplicate),
        (Kind::Reorder, chaos.reorder),
        (Kind::Crash, chaos.crash),
    ];
    for (kind, chance) in kinds {
        let Some(chance) = chance else { continue };
        let mut rule = base(kind, chance);
        if kind == Kind::Delay {
            rule.ms = Some(ms);
        }
        rule.check()
            .map_err(|e| anyhow!("--{}: {e}", kind.as_str()))?;
        let name = format!("chaos-{}", kind.as_str());
        rules::write(&dir, &name, &rule)?;
        written.push(name);
    }
    if let Some(groups) = &chaos.partition {
        let mut rule = base(Kind::Partition, chaos.partition_rate);
        rule.flap_ms = Some(chaos.partition_flap_ms);
        rule.groups = groups
            .split('/')
            .map(|g| {
                g.split(',')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .collect();
        rule.check().map_err(|e| anyhow!("--partition: {e}"))?;
        rules::write(&dir, "chaos-partition", &rule)?;
        written.push("chaos-partition".into());
    }
    if written.is_empty() {
        bail!("say which faults and how often, e.g. `eos chaos --seed 7 --drop 0.1 --delay 0.2`");
    }
    out.say(format!(
        "{} {} (seed {}): the same seed and messages give the same faults; `eos chaos --off` ends it",
        styled(GOOD, "chaos"),
        written.join(", "),
        chaos.seed
    ))?;
    out.data(&json!({"rules": written, "seed": chaos.seed}))?;
    Ok(ExitCode::SUCCESS)
}
