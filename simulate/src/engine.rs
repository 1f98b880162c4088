//! The discrete-event engine: one day, one seed, one thread.
//!
//! A telegram's life: a CS window sends it; the distributor picks the next
//! relay (round robin); the relay admits it if it has a free connection and
//! answers connection excess otherwise; an admitted telegram holds its
//! connection through HSM decrypt, the upstream request and HSM encrypt;
//! then the answer goes back. The CS rule decides what a window does on
//! connection excess or a search timeout. Events at the same instant run
//! in the order they were scheduled, so a seed fixes the whole day.

use crate::params::*;
use crate::report::{DayResult, Series};
use patches::CsRule;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// A telegram slot and the serial of the telegram in it: slots are reused,
/// so an event for a telegram that is gone finds another serial and is
/// dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TelRef {
    slot: u32,
    serial: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Answer {
    Done,
    ConnectionExcess,
    HsmError,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum HsmPhase {
    Decrypt,
    Encrypt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// The next applicant of the country walks into an office.
    Applicant,
    /// The next move-in/move-out update reaches the upstream server.
    MoveUpdate,
    AtRelay(TelRef),
    HsmDone {
        relay: u32,
        epoch: u32,
        tel: TelRef,
        phase: HsmPhase,
    },
    /// The upstream finished a request (`None`: a move update).
    UpstreamDone(Option<TelRef>),
    AtCs(TelRef, Answer),
    SearchTimeout(TelRef),
    /// A window's wait (write and verify, backoff) is over: send.
    WindowReady {
        cs: u32,
        window: u32,
        generation: u32,
    },
    Unblock {
        cs: u32,
        generation: u32,
    },
    /// A root-cause fault strikes a relay.
    HsmHang(u32),
    ApAbort(u32),
    /// The relay is restarted after an outage.
    Restart(u32),
}

/// An event and when it happens; ordered by time, then by when it was
/// scheduled (the event itself never decides).
#[derive(Clone, Copy, Debug)]
struct Scheduled {
    at: Micros,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The fixed-delay event lines.
#[derive(Clone, Copy, Debug)]
enum Line {
    Network = 0,
    SearchTimeout = 1,
}

#[derive(Clone, Copy, Debug)]
struct Telegram {
    serial: u32,
    cs: u32,
    window: u32,
    /// Index of this telegram within its card.
    stage: u32,
    /// The CS's generation when sent: a legacy cut discards older ones.
    generation: u32,
    relay: u32,
    relay_epoch: u32,
    admitted: bool,
    /// It reached the upstream server (a registration is then on record).
    registered: bool,
    /// The CS discarded it (legacy cut) while it was out.
    discarded: bool,
    /// The relay has let go of it (answered, refused or lost).
    relay_done: bool,
    /// The CS has let go of it (answered, timed out or discarded).
    cs_done: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WindowState {
    /// No card: takes the next applicant.
    Idle,
    /// Waiting to send `stage` (write and verify, or a backoff).
    Waiting,
    /// Telegram `stage` is out.
    InFlight(TelRef),
}

#[derive(Clone, Copy, Debug)]
struct Window {
    state: WindowState,
    stage: u32,
    /// Refusals of the current telegram (improved rule's backoff).
    refusals: u32,
}

#[derive(Clone, Debug)]
struct Cs {
    applicants: u32,
    windows: Vec<Window>,
    blocked: bool,
    /// Bumped at every legacy cut: invalidates the windows' timers and
    /// marks the telegrams in flight as discarded.
    generation: u32,
}

#[derive(Clone, Debug, Default)]
struct Relay {
    connections: u32,
    hsm_busy: u32,
    hsm_queue: VecDeque<(TelRef, HsmPhase)>,
    hsm_hung: bool,
    /// A guarded hang: the next HSM operation ends in an error answer.
    hsm_fails_next: bool,
    down: bool,
    /// Bumped at every restart: what the relay held before is lost.
    epoch: u32,
}

#[derive(Clone, Debug, Default)]
struct Upstream {
    busy: u32,
    queue: VecDeque<Option<TelRef>>,
}

/// One simulated day.
pub struct Engine {
    p: Params,
    rng: ChaCha8Rng,
    now: Micros,
    next_seq: u64,
    /// Events at any delay.
    queue: BinaryHeap<Reverse<Scheduled>>,
    /// Events at one fixed delay arrive in the order they were scheduled:
    /// a FIFO each, much cheaper than the heap (most events are these).
    lines: [VecDeque<Scheduled>; 2],
    telegrams: Vec<Telegram>,
    free_slots: Vec<u32>,
    css: Vec<Cs>,
    relays: Vec<Relay>,
    upstream: Upstream,
    next_relay: u32,
    /// Each ten minutes' factor on the applicant rate (burstiness).
    unevenness: Vec<f64>,
    out: DayResult,
}

impl Engine {
    pub fn new(p: Params, seed: u64) -> Engine {
        let windows = vec![
            Window {
                state: WindowState::Idle,
                stage: 0,
                refusals: 0,
            };
            p.terminals.windows_per_cs as usize
        ];
        let cs = Cs {
            applicants: 0,
            windows,
            blocked: false,
            generation: 0,
        };
        Engine {
            p,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: 0,
            next_seq: 0,
            queue: BinaryHeap::new(),
            lines: [VecDeque::new(), VecDeque::new()],
            telegrams: Vec::new(),
            free_slots: Vec::new(),
            css: vec![cs; p.terminals.cs_count as usize],
            relays: vec![Relay::default(); p.facility.relays as usize],
            upstream: Upstream::default(),
            next_relay: 0,
            unevenness: Vec::new(),
            out: DayResult {
                seed,
                series: Series::new(DAY_MINUTES),
                ..DayResult::default()
            },
        }
    }

    /// Runs the day to its end (18:30) and reports it.
    pub fn run(mut self) -> DayResult {
        self.schedule_day();
        let end = DAY_MINUTES as Micros * MINUTE;
        while let Some(Scheduled { at, event, .. }) = self.pop() {
            if at >= end {
                break;
            }
            self.now = at;
            self.out.events += 1;
            self.handle(event);
        }
        self.finish();
        self.out
    }

    fn schedule(&mut self, delay: Micros, event: Event) {
        let s = self.stamp(delay, event);
        self.queue.push(Reverse(s));
    }

    fn schedule_on(&mut self, line: Line, event: Event) {
        let delay = match line {
            Line::Network => self.p.service.network,
            Line::SearchTimeout => self.p.terminals.search_timeout,
        };
        let s = self.stamp(delay, event);
        self.lines[line as usize].push_back(s);
    }

    fn stamp(&mut self, delay: Micros, event: Event) -> Scheduled {
        self.next_seq += 1;
        Scheduled {
            at: self.now + delay,
            seq: self.next_seq,
            event,
        }
    }

    /// The earliest event of the heap and the lines; ties in schedule order.
    fn pop(&mut self) -> Option<Scheduled> {
        let heap = self.queue.peek().map(|Reverse(s)| (s.at, s.seq));
        let mut best = heap.map(|key| (key, None));
        for (i, line) in self.lines.iter().enumerate() {
            if let Some(s) = line.front() {
                if best.is_none_or(|(key, _)| (s.at, s.seq) < key) {
                    best = Some(((s.at, s.seq), Some(i)));
                }
            }
        }
        match best? {
            (_, None) => self.queue.pop().map(|Reverse(s)| s),
            (_, Some(i)) => self.lines[i].pop_front(),
        }
    }

    fn exponential(&mut self, mean: Micros) -> Micros {
        let u: f64 = self.rng.random();
        (-(mean as f64) * (1.0 - u).ln()) as Micros
    }

    /// Counts one in the current minute of a series.
    fn bump(&mut self, series: fn(&mut Series) -> &mut Vec<f64>) {
        let minute = self.minute();
        series(&mut self.out.series)[minute] += 1.0;
    }

    /// Box-Muller: one standard normal deviate.
    fn standard_normal(&mut self) -> f64 {
        let u1: f64 = self.rng.random();
        let u2: f64 = self.rng.random();
        (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn minute(&self) -> usize {
        ((self.now / MINUTE) as usize).min(DAY_MINUTES - 1)
    }

    fn schedule_day(&mut self) {
        let sigma = self.p.demand.burstiness;
        self.unevenness = (0..DAY_MINUTES / 10)
            .map(|_| (sigma * self.standard_normal() - sigma * sigma / 2.0).exp())
            .collect();
        self.now = OPEN;
        let first = self.applicant_gap();
        self.schedule(first, Event::Applicant);
        if self.p.demand.moves_per_10min > 0.0 {
            let gap = self.move_gap();
            self.schedule(gap, Event::MoveUpdate);
        }
        for relay in 0..self.p.facility.relays {
            self.schedule_faults(relay);
        }
        self.now = 0;
    }

    /// Faults strike as a Poisson process over business hours.
    fn schedule_faults(&mut self, relay: u32) {
        let hours = (CLOSE - OPEN) as f64;
        for (rate, event) in [
            (self.p.faults.hsm_hangs_per_relay_day, Event::HsmHang(relay)),
            (self.p.faults.ap_aborts_per_relay_day, Event::ApAbort(relay)),
        ] {
            if rate <= 0.0 {
                continue;
            }
            let mut at = self.exponential((hours / rate) as Micros);
            while at < CLOSE - OPEN {
                self.schedule(at, event);
                at += self.exponential((hours / rate) as Micros);
            }
        }
    }

    /// Gap to the next applicant at the current time's rate.
    fn applicant_gap(&mut self) -> Micros {
        let slot = ((self.now.saturating_sub(OPEN)) / (30 * MINUTE)) as usize;
        let weight = HALF_HOUR_WEIGHTS[slot.min(HALF_HOUR_WEIGHTS.len() - 1)];
        let total: f64 = HALF_HOUR_WEIGHTS
            .iter()
            .enumerate()
            .map(|(i, w)| w * slot_length(i) as f64)
            .sum();
        let uneven = self.unevenness[self.minute() / 10];
        let per_micro = self.p.demand.cards * weight * uneven / total;
        self.exponential((1.0 / per_micro) as Micros)
    }

    fn move_gap(&mut self) -> Micros {
        let mean = (10 * MINUTE) as f64 / self.p.demand.moves_per_10min;
        self.exponential(mean as Micros)
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Applicant => self.applicant(),
            Event::MoveUpdate => {
                if self.now < CLOSE {
                    self.upstream_enqueue(None);
                    let gap = self.move_gap();
                    self.schedule(gap, Event::MoveUpdate);
                }
            }
            Event::AtRelay(tel) => self.at_relay(tel),
            Event::HsmDone {
                relay,
                epoch,
                tel,
                phase,
            } => self.hsm_done(relay, epoch, tel, phase),
            Event::UpstreamDone(job) => self.upstream_done(job),
            Event::AtCs(tel, answer) => self.at_cs(tel, answer),
            Event::SearchTimeout(tel) => self.search_timeout(tel),
            Event::WindowReady {
                cs,
                window,
                generation,
            } => {
                if self.css[cs as usize].generation == generation && !self.css[cs as usize].blocked
                {
                    self.send(cs, window);
                }
            }
            Event::Unblock { cs, generation } => self.unblock(cs, generation),
            Event::HsmHang(relay) => self.hsm_hang(relay),
            Event::ApAbort(relay) => self.ap_abort(relay),
            Event::Restart(relay) => self.restart(relay),
        }
    }

    // ---- CS terminals ----

    fn applicant(&mut self) {
        if self.now >= CLOSE {
            return;
        }
        self.out.applicants += 1;
        let cs = self.rng.random_range(0..self.p.terminals.cs_count);
        self.css[cs as usize].applicants += 1;
        self.start_idle_windows(cs);
        let gap = self.applicant_gap();
        self.schedule(gap, Event::Applicant);
    }

    fn start_idle_windows(&mut self, cs: u32) {
        if self.css[cs as usize].blocked {
            return;
        }
        for window in 0..self.p.terminals.windows_per_cs {
            let c = &mut self.css[cs as usize];
            if c.applicants == 0 {
                return;
            }
            let w = &mut c.windows[window as usize];
            if w.state == WindowState::Idle {
                c.applicants -= 1;
                *w = Window {
                    state: WindowState::Waiting,
                    stage: 0,
                    refusals: 0,
                };
                self.send(cs, window);
            }
        }
    }

    /// The window sends its current stage's telegram as a new telegram.
    fn send(&mut self, cs: u32, window: u32) {
        let relay = self.next_relay;
        self.next_relay = (self.next_relay + 1) % self.p.facility.relays;
        let c = &self.css[cs as usize];
        let stage = c.windows[window as usize].stage;
        let tel = self.new_telegram(Telegram {
            serial: 0,
            cs,
            window,
            stage,
            generation: c.generation,
            relay,
            relay_epoch: 0,
            admitted: false,
            registered: false,
            discarded: false,
            relay_done: false,
            cs_done: false,
        });
        self.css[cs as usize].windows[window as usize].state = WindowState::InFlight(tel);
        self.out.sent += 1;
        self.schedule_on(Line::Network, Event::AtRelay(tel));
        self.schedule_on(Line::SearchTimeout, Event::SearchTimeout(tel));
    }

    fn new_telegram(&mut self, mut t: Telegram) -> TelRef {
        match self.free_slots.pop() {
            Some(slot) => {
                t.serial = self.telegrams[slot as usize].serial.wrapping_add(1);
                self.telegrams[slot as usize] = t;
                TelRef {
                    slot,
                    serial: t.serial,
                }
            }
            None => {
                self.telegrams.push(t);
                TelRef {
                    slot: self.telegrams.len() as u32 - 1,
                    serial: 0,
                }
            }
        }
    }

    fn live(&self, tel: TelRef) -> Option<&Telegram> {
        let t = self.telegrams.get(tel.slot as usize)?;
        (t.serial == tel.serial && !(t.relay_done && t.cs_done)).then_some(t)
    }

    fn tel_mut(&mut self, tel: TelRef) -> &mut Telegram {
        &mut self.telegrams[tel.slot as usize]
    }

    /// Frees the slot once both ends let go of the telegram.
    fn release(&mut self, tel: TelRef) {
        let t = &self.telegrams[tel.slot as usize];
        if t.serial == tel.serial && t.relay_done && t.cs_done {
            self.free_slots.push(tel.slot);
        }
    }

    /// Is this the telegram the window is waiting for?
    fn current(&self, tel: TelRef) -> Option<Telegram> {
        let t = *self.live(tel)?;
        let c = &self.css[t.cs as usize];
        let waiting = c.windows[t.window as usize].state == WindowState::InFlight(tel);
        (waiting && !t.cs_done && t.generation == c.generation).then_some(t)
    }

    fn at_cs(&mut self, tel: TelRef, answer: Answer) {
        let Some(t) = self.current(tel) else {
            // Discarded or timed out at the CS: the relay's answer is dropped.
            return;
        };
        self.tel_mut(tel).cs_done = true;
        self.release(tel);
        match answer {
            Answer::Done => self.next_stage(t.cs, t.window),
            Answer::HsmError => self.wait_then_send(t.cs, t.window, self.p.terminals.backoff),
            Answer::ConnectionExcess => self.refused(t),
        }
    }

    fn refused(&mut self, t: Telegram) {
        match self.p.facility.patches.cs_rule {
            CsRule::Legacy => self.cut(t.cs),
            CsRule::Improved => {
                let w = &mut self.css[t.cs as usize].windows[t.window as usize];
                let backoff = (self.p.terminals.backoff << w.refusals.min(16))
                    .min(self.p.terminals.block_for);
                w.refusals += 1;
                // Jitter so that refused windows do not come back together.
                let jitter = self.rng.random_range(0..=backoff / 2);
                self.wait_then_send(t.cs, t.window, backoff / 2 + jitter);
            }
        }
    }

    fn search_timeout(&mut self, tel: TelRef) {
        let Some(t) = self.current(tel) else { return };
        self.out.search_timeouts += 1;
        self.tel_mut(tel).cs_done = true;
        self.release(tel);
        match self.p.facility.patches.cs_rule {
            CsRule::Legacy => self.cut(t.cs),
            CsRule::Improved => self.wait_then_send(t.cs, t.window, 0),
        }
    }

    fn wait_then_send(&mut self, cs: u32, window: u32, delay: Micros) {
        let c = &mut self.css[cs as usize];
        c.windows[window as usize].state = WindowState::Waiting;
        let generation = c.generation;
        self.schedule(
            delay,
            Event::WindowReady {
                cs,
                window,
                generation,
            },
        );
    }

    /// The answer to the window's telegram came: write the chip before the
    /// registration, or finish the card.
    fn next_stage(&mut self, cs: u32, window: u32) {
        let last = self.p.terminals.telegrams_per_card - 1;
        let w = &mut self.css[cs as usize].windows[window as usize];
        w.refusals = 0;
        if w.stage == last {
            w.state = WindowState::Idle;
            self.out.cards_issued += 1;
            self.bump(|s| &mut s.cards);
            self.start_idle_windows(cs);
            return;
        }
        w.stage += 1;
        let delay = if w.stage == last {
            self.p.terminals.write_verify
        } else {
            0
        };
        self.wait_then_send(cs, window, delay);
    }

    /// The legacy rule: cut every communication, discard every telegram in
    /// flight, block a minute. A discarded registration the relay already
    /// admitted reaches the system anyway: the card's chip is written, the
    /// retry will be refused as unauthorized, and the card is reissued.
    fn cut(&mut self, cs: u32) {
        self.out.blocks += 1;
        let block_for = self.p.terminals.block_for;
        self.out.series.add_interval(
            |s| &mut s.blocked_cs_minutes,
            self.now,
            self.now + block_for,
        );
        let last = self.p.terminals.telegrams_per_card - 1;
        let c = &mut self.css[cs as usize];
        c.generation += 1;
        c.blocked = true;
        let generation = c.generation;
        let mut discarded = Vec::new();
        for w in c.windows.iter_mut() {
            if let WindowState::InFlight(tel) = w.state {
                discarded.push((tel, w.stage == last));
                w.state = WindowState::Waiting;
            }
        }
        for (tel, registration) in discarded {
            let Some(t) = self.live(tel).copied() else {
                continue;
            };
            if t.cs_done {
                continue;
            }
            self.out.discarded += 1;
            if registration && t.registered {
                self.inconsistency();
            }
            self.tel_mut(tel).discarded = true;
            self.tel_mut(tel).cs_done = true;
            self.release(tel);
        }
        self.schedule(block_for, Event::Unblock { cs, generation });
    }

    /// A card whose registration the CS discarded reached the system: the
    /// chip says issued, the system refuses the retry, the card is reissued.
    fn inconsistency(&mut self) {
        self.out.inconsistencies += 1;
        self.bump(|s| &mut s.inconsistencies);
    }

    /// The block is over: every window sends its card's telegram again (an
    /// inconsistent card is written again first), idle ones take applicants.
    fn unblock(&mut self, cs: u32, generation: u32) {
        let c = &mut self.css[cs as usize];
        if c.generation != generation {
            return;
        }
        c.blocked = false;
        let last = self.p.terminals.telegrams_per_card - 1;
        for window in 0..self.p.terminals.windows_per_cs {
            let w = self.css[cs as usize].windows[window as usize];
            if w.state != WindowState::Waiting {
                continue;
            }
            // The terminal cannot tell whether the discarded registration
            // reached the system: it writes the chip again to be safe.
            if w.stage == last {
                self.wait_then_send(cs, window, self.p.terminals.write_verify);
            } else {
                self.send(cs, window);
            }
        }
        self.start_idle_windows(cs);
    }

    // ---- relays ----

    fn at_relay(&mut self, tel: TelRef) {
        let Some(t) = self.live(tel).copied() else {
            return;
        };
        let r = &mut self.relays[t.relay as usize];
        if r.down {
            // Nobody answers: the CS's search timeout decides.
            self.out.lost += 1;
            self.tel_mut(tel).relay_done = true;
            self.release(tel);
            return;
        }
        if r.connections >= self.p.facility.max_connections {
            self.out.connection_excess += 1;
            self.bump(|s| &mut s.connection_excess);
            self.tel_mut(tel).relay_done = true;
            self.schedule_on(Line::Network, Event::AtCs(tel, Answer::ConnectionExcess));
            self.release(tel);
            return;
        }
        r.connections += 1;
        let epoch = r.epoch;
        let t = self.tel_mut(tel);
        t.admitted = true;
        t.relay_epoch = epoch;
        let relay = t.relay;
        self.hsm_enqueue(relay, tel, HsmPhase::Decrypt);
    }

    fn hsm_enqueue(&mut self, relay: u32, tel: TelRef, phase: HsmPhase) {
        let r = &mut self.relays[relay as usize];
        if r.hsm_busy < self.p.facility.hsm_boards && !r.hsm_hung {
            r.hsm_busy += 1;
            let epoch = r.epoch;
            let took = self.exponential(self.p.service.hsm_op);
            self.schedule(
                took,
                Event::HsmDone {
                    relay,
                    epoch,
                    tel,
                    phase,
                },
            );
        } else {
            r.hsm_queue.push_back((tel, phase));
        }
    }

    fn hsm_done(&mut self, relay: u32, epoch: u32, tel: TelRef, phase: HsmPhase) {
        if self.relays[relay as usize].epoch != epoch {
            return;
        }
        self.relays[relay as usize].hsm_busy -= 1;
        if let Some((next, next_phase)) = self.next_hsm_job(relay) {
            self.hsm_enqueue(relay, next, next_phase);
        }
        if std::mem::take(&mut self.relays[relay as usize].hsm_fails_next) {
            self.out.hsm_errors += 1;
            self.reply(tel, Answer::HsmError);
            return;
        }
        match phase {
            HsmPhase::Decrypt => self.upstream_enqueue(Some(tel)),
            HsmPhase::Encrypt => self.reply(tel, Answer::Done),
        }
    }

    fn next_hsm_job(&mut self, relay: u32) -> Option<(TelRef, HsmPhase)> {
        let r = &mut self.relays[relay as usize];
        if r.hsm_hung {
            return None;
        }
        r.hsm_queue.pop_front()
    }

    /// The relay answers and closes the telegram's connection.
    fn reply(&mut self, tel: TelRef, answer: Answer) {
        let t = *self.tel_mut(tel);
        self.relays[t.relay as usize].connections -= 1;
        self.tel_mut(tel).relay_done = true;
        if answer == Answer::Done {
            self.out.processed += 1;
            self.bump(|s| &mut s.processed);
        }
        self.schedule_on(Line::Network, Event::AtCs(tel, answer));
        self.release(tel);
    }

    fn upstream_enqueue(&mut self, job: Option<TelRef>) {
        if let Some(tel) = job {
            self.out.requests += 1;
            self.bump(|s| &mut s.requests);
            let last = self.p.terminals.telegrams_per_card - 1;
            let t = self.tel_mut(tel);
            t.registered = true;
            if t.discarded && t.stage == last {
                self.inconsistency();
            }
        }
        if self.upstream.busy < self.p.service.upstream_threads {
            self.upstream.busy += 1;
            let took = self.exponential(self.p.service.upstream_op);
            self.schedule(took, Event::UpstreamDone(job));
        } else {
            self.upstream.queue.push_back(job);
        }
    }

    fn upstream_done(&mut self, job: Option<TelRef>) {
        self.upstream.busy -= 1;
        if let Some(next) = self.upstream.queue.pop_front() {
            self.upstream.busy += 1;
            let took = self.exponential(self.p.service.upstream_op);
            self.schedule(took, Event::UpstreamDone(next));
        }
        let Some(tel) = job else { return };
        let Some(t) = self.live(tel).copied() else {
            return;
        };
        if t.relay_epoch == self.relays[t.relay as usize].epoch && !t.relay_done {
            self.hsm_enqueue(t.relay, tel, HsmPhase::Encrypt);
        }
    }

    // ---- root-cause faults ----

    fn hsm_hang(&mut self, relay: u32) {
        self.out.hsm_hangs += 1;
        let r = &self.relays[relay as usize];
        if r.down || r.hsm_hung {
            return;
        }
        if self.p.faults.hsm_guard {
            // The bounded wait turns the lost notice into one error answer.
            self.relays[relay as usize].hsm_fails_next = true;
            return;
        }
        // The HSM waits forever and the relay with it, until restarted.
        self.relays[relay as usize].hsm_hung = true;
        let outage = self.outage();
        self.schedule(outage, Event::Restart(relay));
    }

    fn ap_abort(&mut self, relay: u32) {
        self.out.ap_aborts += 1;
        let r = &mut self.relays[relay as usize];
        if r.down {
            return;
        }
        r.down = true;
        self.lose_everything_held(relay);
        let outage = self.outage();
        self.schedule(outage, Event::Restart(relay));
    }

    fn restart(&mut self, relay: u32) {
        let r = &mut self.relays[relay as usize];
        if r.hsm_hung {
            self.lose_everything_held(relay);
        }
        let r = &mut self.relays[relay as usize];
        r.down = false;
        r.hsm_hung = false;
    }

    /// A restart loses what the relay held; the CSs time out on it.
    fn lose_everything_held(&mut self, relay: u32) {
        let r = &mut self.relays[relay as usize];
        r.epoch += 1;
        r.connections = 0;
        r.hsm_busy = 0;
        r.hsm_queue.clear();
        for slot in 0..self.telegrams.len() {
            let t = self.telegrams[slot];
            if t.relay == relay && t.admitted && !t.relay_done {
                self.out.lost += 1;
                self.telegrams[slot].relay_done = true;
                self.release(TelRef {
                    slot: slot as u32,
                    serial: t.serial,
                });
            }
        }
    }

    fn outage(&mut self) -> Micros {
        let (lo, hi) = (self.p.faults.outage_min, self.p.faults.outage_max);
        self.rng.random_range(lo..=hi)
    }

    fn finish(&mut self) {
        self.out.unserved = self.css.iter().map(|c| c.applicants as u64).sum();
        self.out.peak_processed_per_10min = self.out.series.peak_10min(|s| &s.processed);
    }
}

/// Length of a half-hour weight slot (the last is a quarter hour).
fn slot_length(i: usize) -> Micros {
    if i + 1 == HALF_HOUR_WEIGHTS.len() {
        15 * MINUTE
    } else {
        30 * MINUTE
    }
}
