//! `chukei explain TRACE`: a trace as a sequence diagram, one lane per actor
//! (CS, worker thread, timer, HSM, CPU and interrupt controller, monitor,
//! upstream), each step with what it changed in the state, the violating
//! step marked. Text, Mermaid or a self-contained SVG.
//!
//! Relay traces (driver, shuttle) are replayed to get their events; spec
//! traces are stepped through the spec, and the change of a step is the
//! difference of `describe_state` before and after it.

use anyhow::{Context, Result};
use model::{Schedule, Spec, SpecJob, SpecName, Trace, Verdict};
use regressions::{corpus, replay};
use relay::events::{Event, EventKind, IrqSource, ThreadName};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The trace file to explain.
    #[arg(value_name = "TRACE")]
    trace: PathBuf,
    /// text (a table), mermaid (a sequenceDiagram) or svg (self-contained).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Mermaid,
    Svg,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    if std::env::var_os(crate::IN_PROCESS).is_none() {
        return crate::rerun_without_shuttle_noise();
    }
    let trace = corpus::read(&args.trace)?;
    let diagram = diagram_of(&trace).with_context(|| format!("{}", args.trace.display()))?;
    say_raw!("{}", render(&diagram, args.format));
    Ok(ExitCode::SUCCESS)
}

/// Renders a diagram in `format`.
pub fn render(diagram: &Diagram, format: Format) -> String {
    match format {
        Format::Text => text(diagram),
        Format::Mermaid => mermaid(diagram),
        Format::Svg => svg(diagram),
    }
}

/// An actor of the relay or of a spec: one lane of the diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    Cs(u16),
    Worker(u16),
    Timer,
    Hsm,
    Cpu,
    Monitor,
    Upstream,
    Main,
}

impl Lane {
    fn title(self) -> String {
        match self {
            Lane::Cs(n) => format!("CS {n}"),
            Lane::Worker(n) => format!("worker {n}"),
            Lane::Timer => "timer".into(),
            Lane::Hsm => "HSM".into(),
            Lane::Cpu => "CPU/IRQ".into(),
            Lane::Monitor => "monitor".into(),
            Lane::Upstream => "upstream".into(),
            Lane::Main => "main".into(),
        }
    }

    /// An identifier for Mermaid.
    fn id(self) -> String {
        self.title().replace(['/', ' '], "").to_lowercase()
    }

    fn of_thread(thread: ThreadName) -> Lane {
        match thread {
            ThreadName::Main => Lane::Main,
            ThreadName::Cs(n) => Lane::Cs(n),
            ThreadName::Worker(n) => Lane::Worker(n),
            ThreadName::Timer => Lane::Timer,
            ThreadName::Hsm | ThreadName::HsmBoard(_) => Lane::Hsm,
            ThreadName::Cpu | ThreadName::CpuCore(_) => Lane::Cpu,
            ThreadName::Monitor => Lane::Monitor,
        }
    }
}

/// One step: an actor acting alone (`to` is `None`) or telling another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub from: Lane,
    pub to: Option<Lane>,
    /// Virtual time (relay steps).
    pub at: Option<u64>,
    pub label: String,
    /// What the step changed in the state.
    pub change: String,
    /// The step that violates the property.
    pub violating: bool,
    /// The first step of a lasso's cycle.
    pub cycle_start: bool,
}

/// A trace as lanes and steps.
#[derive(Clone, Debug)]
pub struct Diagram {
    pub title: String,
    pub lanes: Vec<Lane>,
    pub steps: Vec<Step>,
}

/// The diagram of a trace: relay traces are replayed, spec traces stepped.
pub fn diagram_of(trace: &Trace) -> Result<Diagram> {
    let (steps, verdict) = match &trace.schedule {
        Schedule::Actions { .. } => {
            let spec: SpecName = trace.spec.parse()?;
            let steps = spec.build(trace.config().patches, &trace.sizes, SpecSteps(trace))??;
            let verdict = model::replay_trace(trace)?.verdict;
            (steps, verdict)
        }
        _ => {
            let replayed = replay(trace)?;
            let violated = replayed.verdict == Verdict::Violated;
            let mut steps = relay_steps(&replayed.events, violated.then_some(&*trace.property));
            if let (true, Some(last)) = (
                violated && trace.property == "relay_never_hangs",
                steps.last_mut(),
            ) {
                last.change =
                    "the relay hangs from here: the HSM never gets its completion notice".into();
            }
            (steps, replayed.verdict)
        }
    };
    let mut lanes: Vec<Lane> = steps
        .iter()
        .flat_map(|s| std::iter::once(s.from).chain(s.to))
        .collect();
    lanes.sort();
    lanes.dedup();
    Ok(Diagram {
        title: format!(
            "{} on {}: {} {verdict} ({} steps)",
            trace.spec,
            trace.preset,
            trace.property,
            steps.len()
        ),
        lanes,
        steps,
    })
}

// ------------------------------------------------------------- relay ----

/// Relay events as steps, the one that violates `violated` (a property
/// name) marked: the free of an unallocated work area, or else the last
/// event (the replay cuts the events at the symptom).
fn relay_steps(events: &[Event], violated: Option<&str>) -> Vec<Step> {
    let owners = Owners::of(events);
    let mut world = RelayState::default();
    let mut steps: Vec<Step> = events
        .iter()
        .map(|e| {
            let (from, to) = owners.lanes(e);
            Step {
                from,
                to,
                at: Some(e.at).filter(|&t| t != relay::platform::END_OF_TIME),
                label: e.kind.to_string(),
                change: world.apply(e),
                violating: false,
                cycle_start: false,
            }
        })
        .collect();
    let free_of_unallocated = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::FreeOfUnallocated { .. }));
    let at = match violated {
        Some("no_free_of_unallocated") => free_of_unallocated,
        Some(_) => steps.len().checked_sub(1),
        None => None,
    };
    if let Some(step) = at.and_then(|i| steps.get_mut(i)) {
        step.violating = true;
    }
    steps
}

/// Which worker serves a telegram and which CS sent it.
struct Owners {
    worker: BTreeMap<u64, Lane>,
    cs: BTreeMap<u64, Lane>,
}

impl Owners {
    fn of(events: &[Event]) -> Owners {
        let mut owners = Owners {
            worker: BTreeMap::new(),
            cs: BTreeMap::new(),
        };
        for e in events {
            let Some(t) = e.telegram else { continue };
            match (e.thread, &e.kind) {
                (ThreadName::Worker(n), _) => {
                    owners.worker.entry(t.0).or_insert(Lane::Worker(n));
                }
                (_, EventKind::Arrived { cs, .. }) => {
                    owners.cs.entry(t.0).or_insert(Lane::Cs(cs.0));
                }
                _ => {}
            }
        }
        owners
    }

    fn worker_of(&self, e: &Event) -> Lane {
        e.telegram
            .and_then(|t| self.worker.get(&t.0).copied())
            .unwrap_or(Lane::Worker(0))
    }

    fn cs_of(&self, e: &Event) -> Lane {
        e.telegram
            .and_then(|t| self.cs.get(&t.0).copied())
            .unwrap_or(Lane::Cs(1))
    }

    /// Who acts, and whom the step tells.
    fn lanes(&self, e: &Event) -> (Lane, Option<Lane>) {
        let me = Lane::of_thread(e.thread);
        let source = |s: &IrqSource| match s {
            IrqSource::Hsm => Lane::Hsm,
            IrqSource::Monitor => Lane::Monitor,
        };
        match &e.kind {
            EventKind::Arrived { .. } => (me, Some(self.worker_of(e))),
            EventKind::SetTimer { .. } | EventKind::ResetTimer { .. } => (me, Some(Lane::Timer)),
            EventKind::TimeoutPosted { .. } => (me, Some(self.worker_of(e))),
            EventKind::HsmRequest { .. } => (me, Some(Lane::Hsm)),
            EventKind::InterruptRaised { source: s } => (source(s), Some(Lane::Cpu)),
            EventKind::InterruptCollapsed { .. } => (Lane::Cpu, None),
            EventKind::InterruptAcknowledged { source: s } => (Lane::Cpu, Some(source(s))),
            EventKind::CompletionNotice => (Lane::Cpu, Some(Lane::Hsm)),
            EventKind::UpstreamForward => (me, Some(Lane::Upstream)),
            EventKind::UpstreamReply { .. } => (Lane::Upstream, Some(me)),
            EventKind::Reply { .. } => (me, Some(self.cs_of(e))),
            EventKind::ConnectionExcess { cs, .. } => (me, Some(Lane::Cs(cs.0))),
            _ => (me, None),
        }
    }
}

/// The relay state a reader follows: work areas, armed timers, queued
/// timeout notices, pending interrupts, the HSM.
#[derive(Default)]
struct RelayState {
    areas: Vec<u32>,
    armed: Vec<u16>,
    queued: Vec<(u16, u64)>,
    pending: Vec<&'static str>,
}

impl RelayState {
    /// Applies an event; says what it changed.
    fn apply(&mut self, e: &Event) -> String {
        use EventKind::*;
        let who = match e.thread {
            ThreadName::Worker(n) => format!("worker {n}"),
            other => other.to_string(),
        };
        match &e.kind {
            Alloc { area } => {
                self.areas.push(*area);
                format!("work area {area} allocated; allocated {:?}", self.areas)
            }
            Free { area } => {
                self.areas.retain(|a| a != area);
                format!("work area {area} freed; allocated {:?}", self.areas)
            }
            FreeOfUnallocated { area } => {
                format!(
                    "work area {area} is not allocated (allocated {:?}): freed anyway",
                    self.areas
                )
            }
            SetTimer {
                timer,
                epoch,
                deadline,
            } => {
                self.armed.push(*timer);
                match *deadline {
                    relay::platform::END_OF_TIME => format!("timer {timer} armed, epoch {epoch}"),
                    at => format!("timer {timer} armed, epoch {epoch}, fires at {at}ms"),
                }
            }
            ResetTimer { timer, removed } => {
                self.armed.retain(|t| t != timer);
                match (removed, self.queued.iter().any(|(t, _)| t == timer)) {
                    (false, true) => {
                        format!("timer {timer} reset, but its timeout notice stays queued")
                    }
                    _ => format!("timer {timer} reset"),
                }
            }
            TimeoutPosted { timer, epoch } => {
                self.armed.retain(|t| t != timer);
                self.queued.push((*timer, *epoch));
                format!(
                    "timeout notice (timer {timer}, epoch {epoch}) queued; queue {}",
                    self.queue()
                )
            }
            TimeoutReceived { timer, epoch } => {
                self.queued.retain(|q| *q != (*timer, *epoch));
                format!(
                    "{who} takes the timeout notice (timer {timer}, epoch {epoch}); queue {}",
                    self.queue()
                )
            }
            InterruptRaised { source } => {
                if !self.pending.contains(&irq_name(source)) {
                    self.pending.push(irq_name(source));
                }
                format!("interrupts pending [{}]", self.pending.join(", "))
            }
            InterruptCollapsed { kept, lost } => {
                self.pending.retain(|p| *p != irq_name(lost));
                format!(
                    "{} and {} interrupts on one core: only the {}'s is kept, the {}'s is lost",
                    irq_name(kept),
                    irq_name(lost),
                    irq_name(kept),
                    irq_name(lost)
                )
            }
            InterruptAcknowledged { source } => {
                self.pending.retain(|p| *p != irq_name(source));
                format!(
                    "{} interrupt serviced; pending [{}]",
                    irq_name(source),
                    self.pending.join(", ")
                )
            }
            HsmRequest { op } => format!("HSM busy ({op:?})"),
            HsmDone { ok, .. } => format!("HSM finished (ok={ok}), raises its interrupt"),
            HsmAwaitingCompletion => "HSM waits for the CPU's completion notice".into(),
            CompletionNotice => "HSM gets its completion notice: free again".into(),
            HsmWaitTimedOut => "the relay gives up waiting for the HSM".into(),
            Terminated => format!("{who} terminates the telegram"),
            ApAbnormalTermination { .. } => "the AP terminates abnormally".into(),
            CsBlocked { until } => format!("the CS blocks all traffic until {until}ms"),
            ChipWritten { card } => format!("{card}: chip written"),
            UpstreamReply { registered } => format!("system record registered={registered}"),
            _ => String::new(),
        }
    }

    fn queue(&self) -> String {
        let q: Vec<String> = self
            .queued
            .iter()
            .map(|(t, e)| format!("t{t}/e{e}"))
            .collect();
        format!("[{}]", q.join(", "))
    }
}

fn irq_name(source: &IrqSource) -> &'static str {
    match source {
        IrqSource::Hsm => "HSM",
        IrqSource::Monitor => "monitor",
    }
}

// -------------------------------------------------------------- spec ----

/// Steps of a spec trace: each action's lanes, its description, and the
/// difference of the spec's state description before and after.
struct SpecSteps<'a>(&'a Trace);

impl SpecJob for SpecSteps<'_> {
    type Output = Result<Vec<Step>>;
    fn run<S: Spec>(self, spec: S) -> Result<Vec<Step>> {
        let replayed = model::replay::replay(&spec, self.0)?;
        let Schedule::Actions { actions, .. } = &self.0.schedule else {
            unreachable!("spec steps of an actions trace")
        };
        let violating = match replayed.verdict {
            Verdict::Violated => replayed.witness.filter(|&w| w > 0).map(|w| w - 1),
            Verdict::Holds | Verdict::Inconclusive => None,
        };
        let states: Vec<String> = replayed
            .states
            .iter()
            .map(|s| spec.describe_state(s))
            .collect();
        Ok(replayed
            .actions
            .iter()
            .zip(actions)
            .enumerate()
            .map(|(i, (action, json))| {
                let (from, to) = spec_lanes(json);
                Step {
                    from,
                    to,
                    at: None,
                    label: spec.describe_action(action),
                    change: state_change(&states[i], &states[i + 1]),
                    violating: violating == Some(i),
                    cycle_start: replayed.cycle_start == Some(i),
                }
            })
            .collect())
    }
}

/// The lanes of a spec action, from its name and its `worker` / `cs` field.
fn spec_lanes(action: &serde_json::Value) -> (Lane, Option<Lane>) {
    let (name, fields) = match action {
        serde_json::Value::String(name) => (name.as_str(), None),
        serde_json::Value::Object(map) => match map.iter().next() {
            Some((name, fields)) => (name.as_str(), Some(fields)),
            None => ("", None),
        },
        _ => ("", None),
    };
    let index = |key: &str| {
        fields
            .and_then(|f| f.get(key))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0) as u16
    };
    let worker = Lane::Worker(index("worker"));
    let cs = Lane::Cs(index("cs"));
    match name {
        "arrive" => (Lane::Cs(0), Some(worker)),
        "timer_fires" => (Lane::Timer, Some(worker)),
        "hsm_completes" => (Lane::Hsm, Some(worker)),
        "relay_requests" => (worker, Some(Lane::Hsm)),
        "hsm_raises_interrupt" => (Lane::Hsm, Some(Lane::Cpu)),
        "monitor_raises_interrupt" => (Lane::Monitor, Some(Lane::Cpu)),
        "cpu_services" => {
            let source = fields
                .and_then(|f| f.get("source"))
                .and_then(|s| s.as_str());
            let to = if source == Some("monitor") {
                Lane::Monitor
            } else {
                Lane::Hsm
            };
            (Lane::Cpu, Some(to))
        }
        "send" | "retry" => (cs, Some(worker)),
        "connection_excess" | "reply" | "reply_discarded" => (worker, Some(cs)),
        "upstream" | "upstream_discarded" => (worker, Some(Lane::Upstream)),
        "unblock" => (cs, None),
        _ => (worker, None),
    }
}

/// What changed between two state descriptions: the parts (split at `|`,
/// `;` and `,` outside brackets, then words) that differ, as `old -> new`.
pub fn state_change(before: &str, after: &str) -> String {
    let (b, a) = (parts(before), parts(after));
    let mut changes: Vec<String> = b
        .iter()
        .zip(&a)
        .filter(|(o, n)| o != n)
        .map(|(old, new)| part_change(old, new))
        .collect();
    changes.extend(b.iter().skip(a.len()).map(|gone| format!("- {gone}")));
    changes.extend(a.iter().skip(b.len()).map(|added| format!("+ {added}")));
    changes.join("; ")
}

/// The words of a part that differ; the first word names the part (w0,
/// t1, relay) when it is no key=value and stays the same.
fn part_change(old: &str, new: &str) -> String {
    let (ow, nw) = (words(old), words(new));
    if ow.len() != nw.len() || ow.is_empty() {
        return format!("{old} -> {new}");
    }
    let subject = (!ow[0].contains('=') && ow[0] == nw[0]).then(|| ow[0].clone());
    let diffs: Vec<String> = ow
        .iter()
        .zip(&nw)
        .filter(|(o, n)| o != n)
        .map(|(o, n)| word_change(o, n))
        .collect();
    match subject {
        Some(s) => format!("{s} {}", diffs.join(" ")),
        None => diffs.join(" "),
    }
}

/// `key=old` and `key=new` as `key: old -> new`; `name[a=1 b=2]` as the
/// change inside the brackets, prefixed with the name.
fn word_change(old: &str, new: &str) -> String {
    let bracketed = |w: &str| {
        w.strip_suffix(']')
            .and_then(|w| w.split_once('['))
            .map(|(name, inner)| (name.to_string(), inner.to_string()))
    };
    if let (Some((name, o)), Some((name2, n))) = (bracketed(old), bracketed(new)) {
        if name == name2 && !name.is_empty() && !name.contains('=') {
            return format!("{name}.{}", part_change(&o, &n));
        }
    }
    match (old.split_once('='), new.split_once('=')) {
        (Some((k, o)), Some((k2, n))) if k == k2 => format!("{k}: {o} -> {n}"),
        _ => format!("{old} -> {new}"),
    }
}

/// Splits at `|`, `;` and `,` outside brackets.
fn parts(s: &str) -> Vec<String> {
    split_outside_brackets(s, |c| matches!(c, '|' | ';' | ','))
}

fn words(s: &str) -> Vec<String> {
    split_outside_brackets(s, char::is_whitespace)
}

fn split_outside_brackets(s: &str, at: impl Fn(char) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in s.chars() {
        match c {
            '[' | '(' | '{' => depth += 1,
            ']' | ')' | '}' => depth -= 1,
            _ => {}
        }
        if depth == 0 && at(c) {
            if !current.trim().is_empty() {
                out.push(current.trim().to_string());
            }
            current.clear();
        } else {
            current.push(c);
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

// ----------------------------------------------------------- renders ----

fn time(step: &Step) -> String {
    step.at.map(|t| format!("{t}ms")).unwrap_or_default()
}

fn text(d: &Diagram) -> String {
    let mut out = format!("{}\nlanes: {}\n", d.title, lane_titles(d).join(" | "));
    let _ = writeln!(
        out,
        "     #       time  actor       -> to         step / what changed"
    );
    for (i, s) in d.steps.iter().enumerate() {
        if s.cycle_start {
            out.push_str("       -- cycle: the following steps repeat forever --\n");
        }
        let mark = if s.violating { ">>" } else { "  " };
        let to =
            s.to.map(|l| format!("-> {}", l.title()))
                .unwrap_or_default();
        let _ = writeln!(
            out,
            "{mark}{:>4} {:>10}  {:<11} {:<13} {}",
            i + 1,
            time(s),
            s.from.title(),
            to,
            s.label
        );
        if !s.change.is_empty() {
            let _ = writeln!(out, "{:>31}   {}", "", s.change);
        }
        if s.violating {
            let _ = writeln!(out, "{:>31}   ^ the property is violated here", "");
        }
    }
    out
}

fn lane_titles(d: &Diagram) -> Vec<String> {
    d.lanes.iter().map(|l| l.title()).collect()
}

/// Text Mermaid takes in a message.
fn mermaid_text(s: &str) -> String {
    s.replace("->", "→")
        .replace(';', ",")
        .replace('#', "no. ")
        .replace(['<', '>'], "")
}

fn mermaid(d: &Diagram) -> String {
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(out, "    title {}", mermaid_text(&d.title));
    for lane in &d.lanes {
        let _ = writeln!(out, "    participant {} as {}", lane.id(), lane.title());
    }
    for (i, s) in d.steps.iter().enumerate() {
        if s.cycle_start {
            let _ = writeln!(
                out,
                "    Note over {}: the following steps repeat forever",
                d.lanes[0].id()
            );
        }
        if s.violating {
            out.push_str("    rect rgb(255, 215, 215)\n");
        }
        let label = format!("{}. {}", i + 1, mermaid_text(&s.label));
        match s.to {
            Some(to) if to != s.from => {
                let _ = writeln!(out, "    {}->>{}: {label}", s.from.id(), to.id());
            }
            _ => {
                let _ = writeln!(out, "    Note over {}: {label}", s.from.id());
            }
        }
        if !s.change.is_empty() {
            let _ = writeln!(
                out,
                "    Note right of {}: {}",
                s.to.unwrap_or(s.from).id(),
                mermaid_text(&s.change)
            );
        }
        if s.violating {
            let _ = writeln!(out, "    Note over {}: property violated", s.from.id());
            out.push_str("    end\n");
        }
    }
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const LANE_WIDTH: usize = 120;
const ROW: usize = 34;
const TOP: usize = 70;

fn svg(d: &Diagram) -> String {
    let lane_x = |lane: Lane| {
        let i = d.lanes.iter().position(|l| *l == lane).unwrap_or(0);
        40 + LANE_WIDTH / 2 + i * LANE_WIDTH
    };
    let notes_x = 40 + d.lanes.len() * LANE_WIDTH + 10;
    let width = notes_x + 620;
    let height = TOP + d.steps.len() * ROW + 30;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">"##
    );
    out.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>"##);
    out.push('\n');
    let _ = writeln!(
        out,
        r##"<rect width="{width}" height="{height}" fill="white"/>"##
    );
    let _ = writeln!(
        out,
        r##"<text x="10" y="18" font-size="13" font-weight="bold">{}</text>"##,
        xml(&d.title)
    );
    for lane in &d.lanes {
        let x = lane_x(*lane);
        let _ = writeln!(
            out,
            r##"<rect x="{}" y="30" width="{}" height="22" rx="4" fill="#e8eef8" stroke="#345"/><text x="{x}" y="45" text-anchor="middle">{}</text><line x1="{x}" y1="52" x2="{x}" y2="{}" stroke="#bbb" stroke-dasharray="4 3"/>"##,
            x - LANE_WIDTH / 2 + 6,
            LANE_WIDTH - 12,
            xml(&lane.title()),
            height - 10
        );
    }
    for (i, s) in d.steps.iter().enumerate() {
        let y = TOP + i * ROW + ROW / 2;
        if s.violating {
            let _ = writeln!(
                out,
                r##"<rect x="2" y="{}" width="{}" height="{ROW}" fill="#ffd7d7"/>"##,
                y - ROW / 2,
                width - 4
            );
        }
        if s.cycle_start {
            let _ = writeln!(
                out,
                r##"<line x1="2" y1="{0}" x2="{1}" y2="{0}" stroke="#a60" stroke-dasharray="6 3"/><text x="4" y="{2}" fill="#a60">cycle</text>"##,
                y - ROW / 2,
                width - 4,
                y - ROW / 2 + 10
            );
        }
        let _ = writeln!(
            out,
            r##"<text x="4" y="{}" fill="#666">{}</text>"##,
            y + 4,
            i + 1
        );
        let from = lane_x(s.from);
        match s.to.filter(|t| *t != s.from) {
            Some(to) => {
                let to = lane_x(to);
                let _ = writeln!(
                    out,
                    r##"<line x1="{from}" y1="{y}" x2="{to}" y2="{y}" stroke="#333" marker-end="url(#arrow)"/>"##
                );
                let _ = writeln!(
                    out,
                    r##"<text x="{}" y="{}" text-anchor="middle">{}</text>"##,
                    (from + to) / 2,
                    y - 4,
                    xml(&s.label)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    r##"<circle cx="{from}" cy="{y}" r="4" fill="#345"/><text x="{}" y="{}">{}</text>"##,
                    from + 8,
                    y - 4,
                    xml(&s.label)
                );
            }
        }
        let change = if s.violating {
            format!("VIOLATION: {}", s.change)
        } else {
            s.change.clone()
        };
        let _ = writeln!(
            out,
            r##"<text x="{notes_x}" y="{}" fill="{}">{} {}</text>"##,
            y + 4,
            if s.violating { "#a00" } else { "#235" },
            xml(&time(s)),
            xml(&change)
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus_trace(name: &str) -> Trace {
        corpus::read(&corpus::dir().join(name)).expect("a stored trace")
    }

    /// The blocks of `docs/*.md` marked `<!-- explain FILE FORMAT -->`
    /// (a fenced block, then `<!-- /explain -->`): file, format, content.
    fn explain_blocks(text: &str) -> Vec<(String, Format, String)> {
        let mut blocks = vec![];
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            let Some(marker) = line
                .strip_prefix("<!-- explain ")
                .and_then(|m| m.strip_suffix(" -->"))
            else {
                continue;
            };
            let (file, format) = marker.split_once(' ').expect("FILE FORMAT");
            let format = match format {
                "text" => Format::Text,
                "mermaid" => Format::Mermaid,
                other => panic!("no explain format `{other}` in a doc block"),
            };
            let fence = lines.next().expect("a fenced block after the marker");
            assert!(fence.starts_with("```"), "{fence}");
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            assert_eq!(lines.next(), Some("<!-- /explain -->"), "{file}");
            blocks.push((file.to_string(), format, body.join("\n")));
        }
        blocks
    }

    #[test]
    fn the_diagrams_in_the_docs_are_up_to_date() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut checked = 0;
        for entry in std::fs::read_dir(root.join("docs")).unwrap() {
            let doc = entry.unwrap().path();
            if doc.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let text = std::fs::read_to_string(&doc).unwrap();
            for (file, format, block) in explain_blocks(&text) {
                let trace = corpus::read(&root.join(&file)).expect("a corpus trace");
                let fresh = render(&diagram_of(&trace).unwrap(), format);
                assert_eq!(
                    block.trim_end(),
                    fresh.trim_end(),
                    "{}: the diagram of {file} is out of date; paste `chukei explain {file} --format {}`",
                    doc.display(),
                    format!("{format:?}").to_lowercase()
                );
                checked += 1;
            }
        }
        assert!(checked >= 2, "the guide's diagrams ({checked} found)");
    }

    #[test]
    fn the_timer_race_on_the_driver_as_text_and_mermaid() {
        let d = diagram_of(&corpus_trace(
            "reproduce-timer-free-2016-01-no_free_of_unallocated.json",
        ))
        .unwrap();
        let marked: Vec<&Step> = d.steps.iter().filter(|s| s.violating).collect();
        assert_eq!(marked.len(), 1);
        assert!(
            marked[0].label.starts_with("free-of-unallocated"),
            "{marked:?}"
        );
        assert_eq!(d.steps.len(), 29, "the minimized trace's events");
        insta::assert_snapshot!("timer_free_driver_text", render(&d, Format::Text));
        insta::assert_snapshot!("timer_free_driver_mermaid", render(&d, Format::Mermaid));
    }

    #[test]
    fn the_lost_interrupt_on_shuttle_has_the_irq_lanes() {
        let d = diagram_of(&corpus_trace(
            "shuttle-random-irq-order-2016-01-relay_never_hangs.json",
        ))
        .unwrap();
        for lane in [Lane::Hsm, Lane::Cpu, Lane::Monitor] {
            assert!(d.lanes.contains(&lane), "{:?}", d.lanes);
        }
        insta::assert_snapshot!("irq_order_shuttle_text", render(&d, Format::Text));
    }

    #[test]
    fn a_spec_trace_shows_each_state_change_and_the_violating_step() {
        let d = diagram_of(&corpus_trace(
            "proptest-timer-free-2016-01-no_free_of_unallocated.json",
        ))
        .unwrap();
        assert_eq!(d.steps.len(), 8);
        assert!(d.steps[7].violating);
        assert!(
            d.steps.iter().all(|s| !s.change.is_empty()),
            "{:?}",
            d.steps
        );
        insta::assert_snapshot!("timer_free_spec_text", render(&d, Format::Text));
        let svg = render(&d, Format::Svg);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(
            !svg.contains("href"),
            "self-contained: no external references"
        );
        insta::assert_snapshot!("timer_free_spec_svg", svg);
    }

    #[test]
    fn state_change_names_what_differs() {
        assert_eq!(
            state_change(
                "w0 Idle work_area=- timer=- | t0 replies=0",
                "w0 Busy work_area=0 timer=- | t0 replies=0"
            ),
            "w0 Idle -> Busy work_area: - -> 0"
        );
        assert_eq!(
            state_change(
                "relay waiting=true pending[hsm=false monitor=true]",
                "relay waiting=false pending[hsm=false monitor=true]"
            ),
            "relay waiting: true -> false"
        );
    }
}
