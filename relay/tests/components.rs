//! Component behaviour on the deterministic driver with its default schedule
//! (the lowest runnable thread runs; the clock moves only when nothing can):
//! every test here is one exact, repeatable interleaving.

use relay::crypto::{Direction, SessionCipher};
use relay::cs::{disagreements, run_cs, telegram_id, CsConfig};
use relay::events::{EventKind, IrqSource};
use relay::mailbox::Message;
use relay::shared::Observation;
use relay::sim::{Chooser, Driver, RunOutcome, Sim};
use relay::telegram::{CardId, CsId, Telegram, TelegramId, TelegramKind};
use relay::{
    CryptoPath, CsRule, Delivery, Event, EventLog, Preset, Relay, RelayConfig, Role, ThreadName,
    TimerFix,
};

fn in_process(preset: Preset) -> RelayConfig {
    RelayConfig {
        crypto: CryptoPath::InProcess,
        ..RelayConfig::small(preset)
    }
}

fn request(config: &RelayConfig, seq: u64) -> Telegram {
    let id = TelegramId(100_000 + seq);
    let cipher = SessionCipher::new(&config.key);
    Telegram {
        kind: TelegramKind::Register,
        cs: CsId(1),
        id,
        card: CardId(seq),
        payload: cipher.seal(id, Direction::Request, b"register"),
    }
}

/// Runs `body` on the driver's default schedule and returns its events.
fn default_schedule<T: Send + 'static>(
    body: impl FnOnce(EventLog) -> T + Send + 'static,
) -> (RunOutcome, Option<T>, Vec<Event>) {
    let log = EventLog::new();
    let inner = log.clone();
    let (report, value) = Driver::new(Chooser::Replay(vec![])).run(move || body(inner));
    (report.outcome, value, log.snapshot())
}

fn count(events: &[Event], pred: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| pred(&e.kind)).count()
}

#[test]
fn a_telegram_is_relayed_through_the_hsm_and_freed() {
    for preset in [Preset::Jan2016, Preset::Proposed] {
        let config = RelayConfig::small(preset);
        let (outcome, answer, events) = default_schedule(move |log| {
            let relay = Relay::<Sim>::start(config.clone(), log);
            relay
                .handle()
                .submit(request(&config, 1), ThreadName::Main)
                .unwrap();
            let answer = relay.handle().take_reply(CsId(1), None);
            let seen = relay.shutdown().observe();
            assert!(seen.allocated_work_areas.is_empty());
            answer
        });
        assert_eq!(outcome, RunOutcome::Completed);
        let answer = answer.flatten().expect("answered");
        assert_eq!(answer.kind, TelegramKind::ReplyOk);
        let cipher = SessionCipher::new(&RelayConfig::small(preset).key);
        let body = cipher
            .open(answer.id, Direction::Reply, &answer.payload)
            .unwrap();
        assert_eq!(body, b"ReplyOk card-1");
        assert_eq!(
            count(&events, |k| matches!(k, EventKind::CompletionNotice)),
            2
        );
        assert_eq!(
            count(&events, |k| matches!(
                k,
                EventKind::ResetTimer { removed: true, .. }
            )),
            1
        );
        let registered = |events: &[Event]| {
            count(events, |k| {
                matches!(k, EventKind::UpstreamReply { registered: true })
            })
        };
        assert_eq!(registered(&events), 1, "a registration answered ok");
        let search = default_schedule(move |log| {
            let config = RelayConfig::small(preset);
            let relay = Relay::<Sim>::start(config.clone(), log);
            let mut search = request(&config, 2);
            search.kind = TelegramKind::Search;
            relay.handle().submit(search, ThreadName::Main).unwrap();
            relay.handle().take_reply(CsId(1), None);
            relay.shutdown();
        });
        assert_eq!(
            count(&search.2, |k| matches!(k, EventKind::UpstreamReply { .. })),
            1
        );
        assert_eq!(registered(&search.2), 0, "a search registers nothing");
    }
}

/// A genuine timeout is not a stale notice: every timer fix, the wrong
/// epoch fix included, terminates the telegram it was set for, answers it
/// once and frees its area; the late HSM result is a stale message.
#[test]
fn a_slow_upstream_times_the_telegram_out_with_exactly_one_reply() {
    for fix in [
        TimerFix::None,
        TimerFix::AllocGuard,
        TimerFix::Epoch,
        TimerFix::EpochUncleared,
    ] {
        let (first, seen, events) = slow_upstream(fix);
        assert_eq!(first.unwrap().kind, TelegramKind::ErrorTimeout, "{fix:?}");
        let counts: Vec<_> = seen.answers.values().copied().collect();
        assert_eq!(counts, vec![1], "{fix:?}");
        assert!(seen.allocated_work_areas.is_empty(), "{fix:?}");
        let terminated = count(&events, |k| matches!(k, EventKind::Terminated));
        assert_eq!(terminated, 1, "{fix:?}");
        let stale = count(&events, |k| matches!(k, EventKind::StaleMessage { .. }));
        assert_eq!(stale, 1, "{fix:?}");
    }
}

/// One telegram whose upstream answers after its timeout, on 2016-04 with
/// timer fix `fix`, run to completion: the first answer, what the relay saw
/// at shutdown, and the events.
fn slow_upstream(fix: TimerFix) -> (Option<Telegram>, Observation, Vec<Event>) {
    let mut config = RelayConfig::small(Preset::Apr2016);
    config.patches.timer_fix = fix;
    config.upstream_latency = config.telegram_timeout + 1;
    let (outcome, answers, events) = default_schedule(move |log| {
        let relay = Relay::<Sim>::start(config.clone(), log);
        relay
            .handle()
            .submit(request(&config, 1), ThreadName::Main)
            .unwrap();
        let first = relay.handle().take_reply(CsId(1), None);
        // Let the late HSM result reach the worker before shutting down.
        <Sim as relay::platform::Platform>::sleep(1_000);
        let shared = relay.shutdown();
        (first, shared.observe())
    });
    assert_eq!(outcome, RunOutcome::Completed, "{fix:?}");
    let (first, seen) = answers.unwrap();
    (first, seen, events)
}

/// Starts only the worker (no timer thread) and posts a timeout notice by
/// hand after the first telegram completed: the notice the OS could not take
/// back. What termination does with it is the timer fix.
fn stale_notice_when_idle(fix: TimerFix) -> Vec<Event> {
    let mut config = in_process(Preset::Jan2016);
    config.patches.timer_fix = fix;
    let (outcome, _, events) = default_schedule(move |log| {
        let relay = Relay::<Sim>::start_roles(config.clone(), log, &[Role::Worker(0)]);
        relay
            .handle()
            .submit(request(&config, 1), ThreadName::Main)
            .unwrap();
        relay.handle().take_reply(CsId(1), None);
        relay.shared().mailboxes[0].post(Message::TimeoutNotice {
            timer: 0,
            epoch: 1,
            set_by: TelegramId(100_001),
        });
        // Let the worker retrieve the notice before shutting down.
        <Sim as relay::platform::Platform>::sleep(1);
        relay.shutdown();
    });
    assert_eq!(outcome, RunOutcome::Completed);
    events
}

#[test]
fn a_stale_notice_when_idle_crashes_only_the_unfixed_ap() {
    let none = stale_notice_when_idle(TimerFix::None);
    assert_eq!(
        count(&none, |k| matches!(
            k,
            EventKind::FreeOfUnallocated { area: 0 }
        )),
        1
    );
    assert_eq!(
        count(&none, |k| matches!(
            k,
            EventKind::ApAbnormalTermination { .. }
        )),
        1
    );
    for fix in [TimerFix::AllocGuard, TimerFix::Epoch] {
        let events = stale_notice_when_idle(fix);
        assert_eq!(
            count(&events, |k| matches!(
                k,
                EventKind::FreeOfUnallocated { .. }
            )),
            0
        );
        assert_eq!(
            count(&events, |k| matches!(k, EventKind::TimeoutIgnored { .. })),
            1
        );
    }
}

/// FIFO delivery, the next telegram queued before the stale notice: the
/// notice is retrieved while the next telegram holds its work area.
fn stale_notice_during_next_telegram(fix: TimerFix) -> (Vec<TelegramKind>, Vec<Event>) {
    let mut config = in_process(Preset::Jan2016);
    config.patches.timer_fix = fix;
    config.timer_delivery = Delivery::Fifo;
    let (outcome, kinds, events) = default_schedule(move |log| {
        let relay = Relay::<Sim>::start_roles(config.clone(), log, &[Role::Worker(0)]);
        let h = relay.handle();
        h.submit(request(&config, 1), ThreadName::Main).unwrap();
        let first = h.take_reply(CsId(1), None).unwrap().kind;
        h.submit(request(&config, 2), ThreadName::Main).unwrap();
        relay.shared().mailboxes[0].post(Message::TimeoutNotice {
            timer: 0,
            epoch: 1,
            set_by: TelegramId(100_001),
        });
        let second = h.take_reply(CsId(1), None).unwrap().kind;
        relay.shutdown();
        vec![first, second]
    });
    assert_eq!(outcome, RunOutcome::Completed);
    (kinds.unwrap(), events)
}

#[test]
fn the_allocation_check_terminates_a_healthy_next_telegram_and_the_epoch_does_not() {
    let (kinds, events) = stale_notice_during_next_telegram(TimerFix::AllocGuard);
    assert_eq!(
        kinds,
        vec![TelegramKind::ReplyOk, TelegramKind::ErrorTimeout]
    );
    let terminated: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Terminated))
        .map(|e| e.telegram)
        .collect();
    assert_eq!(terminated, vec![Some(TelegramId(100_002))]);

    // The epoch fixes (the wrong one too: its generation is the second
    // telegram's) ignore the notice, logged under the telegram in flight.
    for fix in [TimerFix::Epoch, TimerFix::EpochUncleared] {
        let (kinds, events) = stale_notice_during_next_telegram(fix);
        assert_eq!(kinds, vec![TelegramKind::ReplyOk, TelegramKind::ReplyOk]);
        assert_eq!(count(&events, |k| matches!(k, EventKind::Terminated)), 0);
        let ignored: Vec<_> = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::TimeoutIgnored { .. }))
            .map(|e| e.telegram)
            .collect();
        assert_eq!(ignored, vec![Some(TelegramId(100_002))], "{fix:?}");
    }
}

#[test]
fn a_lost_hsm_interrupt_hangs_the_relay_without_the_guard() {
    // Hand the HSM's interrupt to nobody: no CPU thread. The board waits for
    // its completion notice forever and the relay with it: a deadlock.
    let config = RelayConfig::small(Preset::Jan2016);
    let (outcome, _, events) = default_schedule(move |log| {
        let relay = Relay::<Sim>::start_roles(config.clone(), log, &[Role::Worker(0), Role::Hsm]);
        relay
            .handle()
            .submit(request(&config, 1), ThreadName::Main)
            .unwrap();
        relay.handle().take_reply(CsId(1), None);
    });
    match outcome {
        RunOutcome::Deadlock { blocked } => {
            assert!(blocked.iter().any(|t| t.starts_with("hsm")), "{blocked:?}");
            assert!(blocked.iter().any(|t| t.starts_with("main")), "{blocked:?}");
        }
        other => panic!("expected a hang, got {other:?}"),
    }
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::HsmAwaitingCompletion)),
        1
    );
}

#[test]
fn the_guard_answers_a_lost_interrupt_with_an_error_and_resets_the_board() {
    let config = RelayConfig::small(Preset::Mar2016);
    let (outcome, answers, events) = default_schedule(move |log| {
        let relay = Relay::<Sim>::start_roles(config.clone(), log, &[Role::Worker(0), Role::Hsm]);
        relay
            .handle()
            .submit(request(&config, 1), ThreadName::Main)
            .unwrap();
        let answer = relay.handle().take_reply(CsId(1), None).map(|t| t.kind);
        let stuck = relay.shared().hsm.awaiting_completion();
        relay.shutdown();
        (answer, stuck)
    });
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(answers, Some((Some(TelegramKind::ErrorHsm), false)));
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::HsmWaitTimedOut)),
        1
    );
    // No CPU fetched the result: the reset dropped it.
    let dropped = |k: &EventKind| matches!(k, EventKind::HsmReset { dropped: true });
    assert_eq!(count(&events, dropped), 1);
}

#[test]
fn the_monitor_raises_its_interrupt_every_period_until_its_bound() {
    let mut config = RelayConfig::small(Preset::Apr2016);
    config.monitor_period = 1_000;
    config.monitor_raises = Some(3);
    let (outcome, _, events) = default_schedule(move |log| {
        let relay = Relay::<Sim>::start_roles(config, log, &[Role::Cpu, Role::Monitor]);
        <Sim as relay::platform::Platform>::sleep(10_000);
        relay.shutdown();
    });
    assert_eq!(outcome, RunOutcome::Completed);
    let raised: Vec<_> = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::InterruptRaised {
                    source: IrqSource::Monitor
                }
            )
        })
        .map(|e| e.at)
        .collect();
    assert_eq!(raised, vec![1_000, 2_000, 3_000]);
    assert_eq!(
        count(&events, |k| matches!(
            k,
            EventKind::InterruptAcknowledged { .. }
        )),
        3
    );
}

#[test]
fn the_legacy_rule_discards_in_flight_cards_and_cascades_at_the_limit() {
    // Two cards in flight, connection limit 1: the second is connection
    // excess; the Legacy terminal discards the first (its chip is written),
    // blocks, and sends both again as new telegrams, which collide again.
    // Meanwhile the relay completed the discarded telegrams: the system holds
    // cards the terminal believes unissued. The cascade of 2016.
    let run = |rule: CsRule| {
        let mut config = RelayConfig::small(Preset::Apr2016);
        config.connection_limit = 1;
        let (outcome, result, events) = default_schedule(move |log| {
            let relay = Relay::<Sim>::start(config, log);
            let mut cs = CsConfig::new(CsId(1), vec![CardId(1), CardId(2)], rule);
            cs.window = 2;
            cs.max_sends = 8;
            let report = run_cs(&relay.handle(), &cs);
            let registered = relay.shutdown().observe().registered_cards;
            (
                disagreements(std::slice::from_ref(&report), &registered),
                report,
                registered,
            )
        });
        assert_eq!(outcome, RunOutcome::Completed);
        (result.unwrap(), events)
    };
    let ((legacy, report, registered), events) = run(CsRule::Legacy);
    assert_eq!(legacy, vec![CardId(1), CardId(2)]);
    assert!(report.cards.values().all(|c| !c.issued), "{report:?}");
    assert_eq!(report.cs, CsId(1), "the report names its terminal");
    assert!(registered.contains_key(&CardId(1)), "{registered:?}");
    assert_eq!(report.blocks, 4);
    assert!(
        count(&events, |k| matches!(
            k,
            EventKind::CsDiscarded { card: CardId(1) }
        )) >= 1
    );
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::CsBlocked { .. })),
        4
    );

    let ((improved, report, _), events) = run(CsRule::Improved);
    assert!(
        report.cards.values().all(|c| c.issued && !c.refused),
        "{report:?}"
    );
    assert!(improved.is_empty(), "{improved:?}");
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::CsDiscarded { .. })),
        0
    );
}

/// The March guard's bounded wait runs out (the HSM takes 1.5× the bound),
/// the CS retries under the same telegram ID, and the abandoned request's
/// result arrives while the retry waits for its own. Found by `validate` on
/// real threads: matched by telegram ID alone, the retry took the abandoned
/// result as its own and forwarded upstream. Matched by epoch, it is stale,
/// and the retry's own (slow) request runs out too.
#[test]
fn an_abandoned_hsm_result_is_stale_for_a_retry_of_the_same_telegram() {
    let mut config = RelayConfig::small(Preset::Apr2016);
    config.hsm_guard_timeout = 20;
    config.hsm_latency = 30;
    let (outcome, answers, events) = default_schedule(move |log| {
        let relay = Relay::<Sim>::start(config.clone(), log);
        let mut kinds = Vec::new();
        for _ in 0..2 {
            relay
                .handle()
                .submit(request(&config, 1), ThreadName::Main)
                .unwrap();
            let answer = relay.handle().take_reply(CsId(1), None).unwrap();
            kinds.push(answer.kind);
        }
        <Sim as relay::platform::Platform>::sleep(1_000);
        relay.shutdown();
        kinds
    });
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(
        answers.unwrap(),
        vec![TelegramKind::ErrorHsm, TelegramKind::ErrorHsm]
    );
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::UpstreamForward)),
        0
    );
    assert!(count(&events, |k| matches!(k, EventKind::StaleMessage { .. })) >= 1);
}

/// The terminal keeps to its window and its send budget, with a new ID per
/// new telegram. One in flight needs two connections at the limit: the
/// relay releases a connection just after the terminal has its answer.
#[test]
fn a_terminal_keeps_to_its_window_and_its_send_budget() {
    let mut config = RelayConfig::small(Preset::Proposed);
    config.connection_limit = 2;
    let (outcome, report, events) = default_schedule(move |log| {
        let relay = Relay::<Sim>::start(config.clone(), log);
        let cards = vec![CardId(1), CardId(2), CardId(3)];
        let mut cs = CsConfig::new(CsId(1), cards, CsRule::Improved);
        cs.window = 1;
        cs.max_sends = 2;
        let report = run_cs(&relay.handle(), &cs);
        relay.shutdown();
        report
    });
    assert_eq!(outcome, RunOutcome::Completed);
    let report = report.unwrap();
    assert_eq!(report.connection_excess, 0, "{report:?}");
    let ids = vec![telegram_id(CsId(1), 0, 1), telegram_id(CsId(1), 0, 2)];
    assert_eq!(report.sent, ids, "two sends, two new IDs");
    assert!(report.cards[&CardId(1)].issued && report.cards[&CardId(2)].issued);
    assert!(
        !report.cards.contains_key(&CardId(3)),
        "the budget is spent"
    );
    let at = |what: &dyn Fn(&Event) -> bool| events.iter().position(what).unwrap();
    let first_answered = at(&|e| matches!(e.kind, EventKind::UpstreamReply { .. }));
    let second_sent = at(&|e| e.kind == EventKind::ChipWritten { card: CardId(2) });
    assert!(first_answered < second_sent, "a window of one: {events:?}");
}
