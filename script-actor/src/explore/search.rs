//! The search over delivery orders, generic over what is explored (a [`Model`]), so that it is
//! tested with plain data: depth-first (with or without partial-order reduction), breadth-first,
//! or seeded random walks; a visited set of state fingerprints so that no state is explored
//! twice; bounds of depth and time; and a flag to stop early (Ctrl-C).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eos::rng::Rng;

/// What is explored: states, the actions enabled in each, and the properties.
pub trait Model {
    type State: Clone;
    type Action: Clone + PartialEq + std::fmt::Debug;

    /// What may happen next (empty: the run is complete).
    fn actions(&self, state: &Self::State) -> Vec<Self::Action>;
    /// The state after `action` (an action that fails leaves what failing leaves).
    fn step(&self, state: &Self::State, action: &Self::Action) -> Self::State;
    /// The state's fingerprint: equal states, equal fingerprints.
    fn fingerprint(&self, state: &Self::State) -> u64;
    /// Whether `a` and `b` commute from any state where both are enabled (and neither
    /// disables the other): deliveries to different actors.
    fn independent(&self, a: &Self::Action, b: &Self::Action) -> bool;
    /// The *always* properties: the first one violated, with what is wrong.
    fn violated(&self, state: &Self::State) -> Option<(String, String)>;
    /// The *sometimes* properties that hold in this state.
    fn reached(&self, state: &Self::State) -> Vec<String>;
    /// The *eventually* properties that do not hold in a complete run's last state.
    fn unfinished(&self, state: &Self::State) -> Option<(String, String)>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Dfs,
    Bfs,
    Random { seed: u64, walks: u64 },
}

#[derive(Debug, Clone)]
pub struct Bounds {
    pub depth: usize,
    pub time: Duration,
    /// Partial-order reduction (sleep sets) in depth-first search.
    pub reduce: bool,
}

/// Which kind of property failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Always,
    Eventually,
}

#[derive(Debug, Clone)]
pub struct Found<A> {
    pub kind: Kind,
    pub property: String,
    pub what: String,
    /// The actions from the start to the state that shows it.
    pub path: Vec<A>,
}

#[derive(Debug, Clone)]
pub struct Report<A> {
    /// States reached, counting a state again each time it is reached.
    pub states: u64,
    /// States told apart by fingerprint.
    pub distinct: u64,
    /// Actions taken.
    pub transitions: u64,
    pub depth: usize,
    /// Every state within the depth bound was explored (not cut by time, Ctrl-C or a find).
    pub exhaustive: bool,
    pub elapsed: Duration,
    pub violation: Option<Found<A>>,
    /// Each *sometimes* property reached, with the first path that reached it.
    pub witnesses: Vec<(String, Vec<A>)>,
}

impl<A> Report<A> {
    fn empty() -> Self {
        Report {
            states: 0,
            distinct: 0,
            transitions: 0,
            depth: 0,
            exhaustive: false,
            elapsed: Duration::ZERO,
            violation: None,
            witnesses: Vec::new(),
        }
    }

    pub fn per_second(&self) -> f64 {
        self.states as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Progress, as it goes.
pub struct Progress<'a> {
    pub stop: &'a AtomicBool,
    pub show: &'a mut dyn FnMut(&Report<()>),
}

struct Run<'m, M: Model> {
    model: &'m M,
    bounds: Bounds,
    start: Instant,
    report: Report<M::Action>,
    seen_witness: HashSet<String>,
    last_shown: Instant,
}

impl<'m, M: Model> Run<'m, M> {
    fn new(model: &'m M, bounds: Bounds) -> Self {
        Run {
            model,
            bounds,
            start: Instant::now(),
            report: Report::empty(),
            seen_witness: HashSet::new(),
            last_shown: Instant::now(),
        }
    }

    /// The report, once the search has ended (`exhaustive`: nothing was cut off).
    fn finish(mut self, exhaustive: bool) -> Report<M::Action> {
        self.report.exhaustive = exhaustive && self.report.violation.is_none();
        self.report.elapsed = self.start.elapsed();
        self.report
    }

    fn out_of_time(&self, progress: &Progress) -> bool {
        self.start.elapsed() > self.bounds.time || progress.stop.load(Ordering::Relaxed)
    }

    fn show(&mut self, progress: &mut Progress) {
        if self.last_shown.elapsed() < Duration::from_millis(250) {
            return;
        }
        self.last_shown = Instant::now();
        let r = &self.report;
        (progress.show)(&Report {
            states: r.states,
            distinct: r.distinct,
            transitions: r.transitions,
            depth: r.depth,
            elapsed: self.start.elapsed(),
            ..Report::empty()
        });
    }

    /// Looks at a state reached by `path`: counts it, checks the properties. Returns whether
    /// the search must stop (a violation).
    fn visit(&mut self, state: &M::State, path: &[M::Action], complete: bool) -> bool {
        let verdicts = Verdicts::of(self.model, state, complete);
        self.take(verdicts, path)
    }

    /// Counts a state whose properties were checked (perhaps on another thread).
    fn take(&mut self, verdicts: Verdicts, path: &[M::Action]) -> bool {
        self.report.states += 1;
        self.report.depth = self.report.depth.max(path.len());
        for name in verdicts.reached {
            if self.seen_witness.insert(name.clone()) {
                self.report.witnesses.push((name, path.to_vec()));
            }
        }
        if let Some((kind, property, what)) = verdicts.found {
            self.report.violation = Some(Found {
                kind,
                property,
                what,
                path: path.to_vec(),
            });
            return true;
        }
        false
    }
}

/// What the properties say of one state.
struct Verdicts {
    reached: Vec<String>,
    found: Option<(Kind, String, String)>,
}

impl Verdicts {
    fn of<M: Model>(model: &M, state: &M::State, complete: bool) -> Self {
        let found = match model.violated(state) {
            Some((property, what)) => Some((Kind::Always, property, what)),
            None if complete => model
                .unfinished(state)
                .map(|(p, w)| (Kind::Eventually, p, w)),
            None => None,
        };
        Verdicts {
            reached: model.reached(state),
            found,
        }
    }
}

/// A state one action from another, with its fingerprint and what the properties say.
struct Successor<S, A> {
    state: S,
    path: Vec<A>,
    key: u64,
    verdicts: Verdicts,
}

/// Every state one action from `state`.
fn expand<M: Model>(
    model: &M,
    state: &M::State,
    path: &[M::Action],
) -> Vec<Successor<M::State, M::Action>> {
    model
        .actions(state)
        .into_iter()
        .map(|action| {
            let next = model.step(state, &action);
            let complete = model.actions(&next).is_empty();
            let mut next_path = path.to_vec();
            next_path.push(action);
            Successor {
                key: model.fingerprint(&next),
                verdicts: Verdicts::of(model, &next, complete),
                state: next,
                path: next_path,
            }
        })
        .collect()
}

/// Breadth-first on `cores` threads, each with a model of its own from `make` (a model need
/// not be shareable: script runtimes are not). Each level of the search is shared out; what the
/// threads found is merged in order, so the result is the one-thread search's.
pub fn bfs_on_cores<M, F>(
    make: &F,
    cores: usize,
    bounds: Bounds,
    progress: &mut Progress,
) -> Result<Report<M::Action>, String>
where
    M: Model,
    M::State: Send,
    M::Action: Send,
    F: Fn() -> Result<(M, M::State), String> + Sync,
{
    let (model, start) = make()?;
    let mut run = Run::new(&model, bounds);
    run.report.distinct = 1;
    type Job<S, A> = Vec<(S, Vec<A>)>;
    let exhaustive = std::thread::scope(|scope| -> Result<bool, String> {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let mut jobs = Vec::new();
        for worker in 0..cores.max(1) {
            let (job_tx, job_rx) = std::sync::mpsc::channel::<Job<M::State, M::Action>>();
            jobs.push(job_tx);
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let Ok((model, _)) = make() else { return };
                for chunk in job_rx {
                    let out: Vec<_> = chunk
                        .iter()
                        .map(|(state, path)| expand(&model, state, path))
                        .collect();
                    if done_tx.send((worker, out)).is_err() {
                        return;
                    }
                }
            });
        }
        let mut visited = HashSet::from([model.fingerprint(&start)]);
        let complete = model.actions(&start).is_empty();
        if run.visit(&start, &[], complete) {
            return Ok(false);
        }
        let mut level = vec![(start, Vec::new())];
        let mut exhaustive = true;
        while !level.is_empty() {
            if run.out_of_time(progress) {
                return Ok(false);
            }
            if level[0].1.len() >= run.bounds.depth {
                exhaustive &= level.iter().all(|(s, _)| model.actions(s).is_empty());
                break;
            }
            // In waves of at most 256 states a thread, so that time and Ctrl-C are heard.
            let size = level.len().div_ceil(jobs.len()).clamp(1, 256);
            let mut rest = level.into_iter().peekable();
            let mut next = Vec::new();
            while rest.peek().is_some() {
                if run.out_of_time(progress) {
                    return Ok(false);
                }
                let mut sent = 0;
                for job in &jobs {
                    let chunk: Vec<_> = rest.by_ref().take(size).collect();
                    if chunk.is_empty() {
                        break;
                    }
                    job.send(chunk)
                        .map_err(|_| "an explorer thread stopped".to_owned())?;
                    sent += 1;
                }
                type Done<S, A> = (usize, Vec<Vec<Successor<S, A>>>);
                let mut results: Vec<Done<M::State, M::Action>> = (0..sent)
                    .map(|_| {
                        done_rx
                            .recv()
                            .map_err(|_| "an explorer thread stopped".to_owned())
                    })
                    .collect::<Result<_, _>>()?;
                results.sort_by_key(|(worker, _)| *worker);
                for successor in results.into_iter().flat_map(|(_, r)| r).flatten() {
                    run.report.transitions += 1;
                    if !visited.insert(successor.key) {
                        run.report.states += 1;
                        continue;
                    }
                    run.report.distinct += 1;
                    if run.take(successor.verdicts, &successor.path) {
                        return Ok(false);
                    }
                    next.push((successor.state, successor.path));
                }
                run.show(progress);
            }
            run.show(progress);
            level = next;
        }
        Ok(exhaustive)
    })?;
    Ok(run.finish(exhaustive))
}

/// Explores from `start` within `bounds`.
pub fn explore<M: Model>(
    model: &M,
    start: M::State,
    strategy: Strategy,
    bounds: Bounds,
    progress: &mut Progress,
) -> Report<M::Action> {
    let mut run = Run::new(model, bounds);
    let exhaustive = match strategy {
        Strategy::Dfs => dfs(&mut run, start, progress),
        Strategy::Bfs => bfs(&mut run, start, progress),
        Strategy::Random { seed, walks } => random(&mut run, start, seed, walks, progress),
    };
    run.finish(exhaustive)
}

/// Depth-first, with sleep sets when reducing: after exploring action `a` from a state, the
/// siblings explored later carry `a` in their sleep set as long as they are independent of it,
/// since those orders were already covered. A state is explored again only for the actions
/// that an earlier visit slept on but this one does not (Godefroid's state-caching rule).
fn dfs<M: Model>(run: &mut Run<M>, start: M::State, progress: &mut Progress) -> bool {
    // Fingerprint → the sleep set the state was explored with.
    let mut visited: HashMap<u64, Vec<M::Action>> = HashMap::new();
    let mut complete = true;
    let mut path = Vec::new();
    let model = run.model;
    let actions = model.actions(&start);
    run.report.distinct = 1;
    if run.visit(&start, &path, actions.is_empty()) {
        return false;
    }
    visited.insert(model.fingerprint(&start), Vec::new());
    struct Frame<S, A> {
        state: S,
        todo: Vec<A>,
        done: Vec<A>,
        sleep: Vec<A>,
    }
    let mut stack = vec![Frame {
        state: start,
        todo: actions.into_iter().rev().collect(),
        done: Vec::new(),
        sleep: Vec::new(),
    }];
    while let Some(frame) = stack.last_mut() {
        if run.out_of_time(progress) {
            return false;
        }
        let Some(action) = frame.todo.pop() else {
            stack.pop();
            path.pop();
            continue;
        };
        if run.bounds.reduce && frame.sleep.contains(&action) {
            continue;
        }
        let next = model.step(&frame.state, &action);
        run.report.transitions += 1;
        // What the child sleeps on: the parent's sleep set and the siblings done before it,
        // those independent of this action.
        let child_sleep: Vec<M::Action> = if run.bounds.reduce {
            frame
                .sleep
                .iter()
                .chain(frame.done.iter())
                .filter(|b| model.independent(&action, b))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        frame.done.push(action.clone());
        path.push(action);
        let enabled = model.actions(&next);
        let key = model.fingerprint(&next);
        let todo: Vec<M::Action> = match visited.get_mut(&key) {
            None => {
                run.report.distinct += 1;
                if run.visit(&next, &path, enabled.is_empty()) {
                    return false;
                }
                visited.insert(key, child_sleep.clone());
                enabled
            }
            Some(old) if run.bounds.reduce => {
                run.report.states += 1;
                // Only what the earlier visit slept on and this one does not.
                let again: Vec<M::Action> = old
                    .iter()
                    .filter(|a| !child_sleep.contains(a))
                    .cloned()
                    .collect();
                old.retain(|a| child_sleep.contains(a));
                enabled.into_iter().filter(|a| again.contains(a)).collect()
            }
            Some(_) => {
                run.report.states += 1;
                Vec::new()
            }
        };
        if path.len() >= run.bounds.depth {
            if !todo.is_empty() {
                complete = false;
            }
            path.pop();
            continue;
        }
        run.show(progress);
        stack.push(Frame {
            state: next,
            todo: todo.into_iter().rev().collect(),
            done: Vec::new(),
            sleep: child_sleep,
        });
    }
    complete
}

fn bfs<M: Model>(run: &mut Run<M>, start: M::State, progress: &mut Progress) -> bool {
    let model = run.model;
    let mut visited = HashSet::new();
    let mut complete = true;
    let actions = model.actions(&start);
    run.report.distinct = 1;
    if run.visit(&start, &[], actions.is_empty()) {
        return false;
    }
    visited.insert(model.fingerprint(&start));
    let mut queue = VecDeque::from([(start, Vec::new())]);
    while let Some((state, path)) = queue.pop_front() {
        if run.out_of_time(progress) {
            return false;
        }
        let actions = model.actions(&state);
        if path.len() >= run.bounds.depth {
            complete &= actions.is_empty();
            continue;
        }
        for action in actions {
            let next = model.step(&state, &action);
            run.report.transitions += 1;
            let mut next_path: Vec<M::Action> = path.clone();
            next_path.push(action);
            if !visited.insert(model.fingerprint(&next)) {
                run.report.states += 1;
                continue;
            }
            run.report.distinct += 1;
            let enabled = model.actions(&next).is_empty();
            if run.visit(&next, &next_path, enabled) {
                return false;
            }
            queue.push_back((next, next_path));
        }
        run.show(progress);
    }
    complete
}

/// `walks` runs from the start, each choosing at random among what is enabled, to the end of
/// the run or the depth bound. Never exhaustive.
fn random<M: Model>(
    run: &mut Run<M>,
    start: M::State,
    seed: u64,
    walks: u64,
    progress: &mut Progress,
) -> bool {
    let model = run.model;
    let mut rng = Rng::new(seed);
    let mut visited = HashSet::new();
    for _ in 0..walks {
        let mut state = start.clone();
        let mut path = Vec::new();
        loop {
            if run.out_of_time(progress) {
                return false;
            }
            let actions = model.actions(&state);
            if visited.insert(model.fingerprint(&state)) {
                run.report.distinct += 1;
            }
            if run.visit(&state, &path, actions.is_empty()) {
                return false;
            }
            if actions.is_empty() || path.len() >= run.bounds.depth {
                break;
            }
            let action = actions[rng.below(actions.len())].clone();
            state = model.step(&state, &action);
            run.report.transitions += 1;
            path.push(action);
        }
        run.show(progress);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two counters and messages that add to one of them; the property: `a` never reaches
    /// `limit` while `b` is 0.
    struct Counters {
        limit: u32,
    }

    #[derive(Clone, Debug)]
    struct S {
        a: u32,
        b: u32,
        pending: Vec<(char, u32)>,
    }

    impl Model for Counters {
        type State = S;
        type Action = (char, u32);

        fn actions(&self, s: &S) -> Vec<(char, u32)> {
            s.pending.clone()
        }

        fn step(&self, s: &S, a: &(char, u32)) -> S {
            let mut next = s.clone();
            if let Some(at) = next.pending.iter().position(|p| p == a) {
                next.pending.remove(at);
            }
            match a.0 {
                'a' => next.a += a.1,
                _ => next.b += a.1,
            }
            next
        }

        fn fingerprint(&self, s: &S) -> u64 {
            let mut p = s.pending.clone();
            p.sort();
            let text = format!("{} {} {p:?}", s.a, s.b);
            text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
        }

        fn independent(&self, x: &(char, u32), y: &(char, u32)) -> bool {
            x.0 != y.0
        }

        fn violated(&self, s: &S) -> Option<(String, String)> {
            (s.a >= self.limit && s.b == 0).then(|| ("order".into(), format!("a = {}", s.a)))
        }

        fn reached(&self, s: &S) -> Vec<String> {
            if s.b > 0 {
                vec!["b-moves".into()]
            } else {
                Vec::new()
            }
        }

        fn unfinished(&self, s: &S) -> Option<(String, String)> {
            (!s.pending.is_empty()).then(|| ("drained".into(), "mail left".into()))
        }
    }

    fn start() -> S {
        S {
            a: 0,
            b: 0,
            pending: vec![('a', 1), ('a', 2), ('b', 1), ('b', 2)],
        }
    }

    fn bounds(reduce: bool) -> Bounds {
        Bounds {
            depth: 10,
            time: Duration::from_secs(10),
            reduce,
        }
    }

    fn run(model: &Counters, strategy: Strategy, reduce: bool) -> Report<(char, u32)> {
        let stop = AtomicBool::new(false);
        let mut show = |_: &Report<()>| {};
        let mut progress = Progress {
            stop: &stop,
            show: &mut show,
        };
        explore(model, start(), strategy, bounds(reduce), &mut progress)
    }

    #[test]
    fn every_strategy_finds_the_bad_order_with_its_path() {
        let model = Counters { limit: 3 };
        for strategy in [
            Strategy::Dfs,
            Strategy::Bfs,
            Strategy::Random {
                seed: 7,
                walks: 100,
            },
        ] {
            let report = run(&model, strategy, false);
            let found = report.violation.expect("found");
            assert_eq!(found.property, "order");
            // Replaying the path reaches a violating state.
            let end = found.path.iter().fold(start(), |s, a| model.step(&s, a));
            assert!(model.violated(&end).is_some(), "{strategy:?}");
            assert!(!report.exhaustive);
        }
        // Breadth-first finds a shortest one: both a-messages, nothing else.
        let bfs = run(&model, Strategy::Bfs, false).violation.unwrap();
        assert_eq!(bfs.path.len(), 2);
    }

    #[test]
    fn a_correct_system_is_explored_exhaustively_and_reduction_saves_work() {
        let model = Counters { limit: 100 };
        let plain = run(&model, Strategy::Dfs, false);
        let reduced = run(&model, Strategy::Dfs, true);
        let bfs = run(&model, Strategy::Bfs, false);
        for r in [&plain, &reduced, &bfs] {
            assert!(r.exhaustive);
            assert!(r.violation.is_none());
            assert_eq!(r.witnesses[0].0, "b-moves");
        }
        // The same distinct states, reached by fewer transitions.
        assert_eq!(plain.distinct, 16);
        assert_eq!(reduced.distinct, plain.distinct);
        assert_eq!(bfs.distinct, plain.distinct);
        assert!(
            reduced.transitions < plain.transitions,
            "{} < {}",
            reduced.transitions,
            plain.transitions
        );
    }

    #[test]
    fn breadth_first_on_several_threads_finds_what_one_thread_finds() {
        for limit in [3, 100] {
            let make = || Ok((Counters { limit }, start()));
            let stop = AtomicBool::new(false);
            let mut show = |_: &Report<()>| {};
            let mut progress = Progress {
                stop: &stop,
                show: &mut show,
            };
            let parallel = bfs_on_cores(&make, 3, bounds(false), &mut progress).unwrap();
            let single = run(&Counters { limit }, Strategy::Bfs, false);
            assert_eq!(parallel.distinct, single.distinct);
            assert_eq!(parallel.exhaustive, single.exhaustive);
            assert_eq!(
                parallel.violation.map(|f| f.path.len()),
                single.violation.map(|f| f.path.len())
            );
        }
    }

    #[test]
    fn eventually_is_checked_at_the_end_of_complete_runs_only() {
        struct Stuck;
        impl Model for Stuck {
            type State = u8;
            type Action = u8;
            fn actions(&self, s: &u8) -> Vec<u8> {
                if *s < 2 { vec![1] } else { Vec::new() }
            }
            fn step(&self, s: &u8, a: &u8) -> u8 {
                s + a
            }
            fn fingerprint(&self, s: &u8) -> u64 {
                u64::from(*s)
            }
            fn independent(&self, _: &u8, _: &u8) -> bool {
                false
            }
            fn violated(&self, _: &u8) -> Option<(String, String)> {
                None
            }
            fn reached(&self, _: &u8) -> Vec<String> {
                Vec::new()
            }
            fn unfinished(&self, s: &u8) -> Option<(String, String)> {
                (*s != 3).then(|| ("three".into(), format!("ended at {s}")))
            }
        }
        let stop = AtomicBool::new(false);
        let mut show = |_: &Report<()>| {};
        let mut progress = Progress {
            stop: &stop,
            show: &mut show,
        };
        let r = explore(&Stuck, 0, Strategy::Dfs, bounds(false), &mut progress);
        let found = r.violation.unwrap();
        assert_eq!(found.kind, Kind::Eventually);
        assert_eq!(found.path, vec![1, 1]);
    }

    #[test]
    fn a_stop_ends_the_search_at_once() {
        let model = Counters { limit: 100 };
        let stop = AtomicBool::new(true);
        let mut show = |_: &Report<()>| {};
        let mut progress = Progress {
            stop: &stop,
            show: &mut show,
        };
        let r = explore(&model, start(), Strategy::Dfs, bounds(false), &mut progress);
        assert!(!r.exhaustive);
    }
}
