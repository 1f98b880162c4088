//! The HSM board: takes one request at a time, computes, raises its interrupt,
//! and then waits for the CPU's completion notice before it takes the next
//! request. If the notice never comes, the board (and the relay with it)
//! waits forever: root cause 1.

use crate::crypto::{Direction, SessionCipher};
use crate::events::HsmOp;
use crate::platform::{Lock, Millis, Platform, Wait};
use crate::telegram::TelegramId;
use std::collections::VecDeque;

/// A request to the board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HsmJob {
    pub telegram: TelegramId,
    pub worker: u16,
    /// The worker's telegram epoch when it asked: after a bounded wait ran
    /// out, the CS retries under the same telegram ID, so only the epoch
    /// tells the retry's result from the abandoned request's.
    pub epoch: u64,
    pub op: HsmOp,
    pub data: Vec<u8>,
}

/// A computed result, waiting for the CPU to fetch it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HsmResult {
    pub telegram: TelegramId,
    pub worker: u16,
    pub epoch: u64,
    pub op: HsmOp,
    pub output: Result<Vec<u8>, String>,
}

#[derive(Debug, Default)]
struct Board {
    queue: VecDeque<HsmJob>,
    /// Raised its interrupt; waiting for the completion notice. A reset
    /// clears it too, which is what ends the firmware's wait.
    awaiting_completion: Option<HsmResult>,
    shutdown: bool,
}

/// The board; its firmware loop is [`Hsm::run`].
pub struct Hsm<P: Platform> {
    board: P::Mutex<Board>,
    cipher: SessionCipher,
    latency: Millis,
    /// Operations computed so far: an observer for summaries (a plain std
    /// atomic, never a scheduling point).
    operations: std::sync::atomic::AtomicU64,
}

impl<P: Platform> Hsm<P> {
    pub fn new(key: &[u8; 32], latency: Millis) -> Self {
        Hsm {
            board: P::Mutex::new(Board::default()),
            cipher: SessionCipher::new(key),
            latency,
            operations: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn submit(&self, job: HsmJob) {
        self.board.with(|b| b.queue.push_back(job));
    }

    /// The cryptography itself, shared with the in-process path.
    pub fn compute(cipher: &SessionCipher, job: &HsmJob) -> Result<Vec<u8>, String> {
        match job.op {
            HsmOp::Decrypt => cipher
                .open(job.telegram, Direction::Request, &job.data)
                .map_err(|e| e.to_string()),
            HsmOp::Encrypt => Ok(cipher.seal(job.telegram, Direction::Reply, &job.data)),
        }
    }

    /// The firmware: for each job, compute, publish the result, call `raise`
    /// (the interrupt), then wait for the completion notice (or a reset).
    pub fn run(&self, mut on_done: impl FnMut(&HsmResult), mut raise: impl FnMut(&HsmResult)) {
        while let Some(job) = self.next_job() {
            if self.latency > 0 {
                P::sleep(self.latency);
            }
            let result = HsmResult {
                telegram: job.telegram,
                worker: job.worker,
                epoch: job.epoch,
                op: job.op,
                output: Self::compute(&self.cipher, &job),
            };
            self.operations
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            on_done(&result);
            self.board
                .with(|b| b.awaiting_completion = Some(result.clone()));
            raise(&result);
            self.await_completion();
        }
    }

    fn next_job(&self) -> Option<HsmJob> {
        self.board.wait(|b| {
            if b.shutdown {
                Wait::Ready(None)
            } else if let Some(job) = b.queue.pop_front() {
                Wait::Ready(Some(job))
            } else {
                Wait::blocked()
            }
        })
    }

    /// Until the CPU fetched the result (its completion notice) or a reset
    /// dropped it: either empties `awaiting_completion`, and only the
    /// firmware itself fills it.
    fn await_completion(&self) {
        self.board.wait(|b| {
            if b.shutdown || b.awaiting_completion.is_none() {
                Wait::Ready(())
            } else {
                Wait::blocked()
            }
        });
    }

    /// The CPU's side of an HSM interrupt: fetch the result and send the
    /// completion notice. `None` if nothing was waiting (a late interrupt
    /// after a reset).
    pub fn complete(&self) -> Option<HsmResult> {
        self.board.with(|b| b.awaiting_completion.take())
    }

    /// The guard's reset: the board drops the result it was holding and
    /// stops waiting for its notice. Calls `log` with whether a result was
    /// dropped while the board is locked, so the log orders the reset
    /// before the board's next result. `log` must not call the platform.
    pub fn reset_logged(&self, log: impl FnOnce(bool)) {
        self.board
            .with(|b| log(b.awaiting_completion.take().is_some()));
    }

    /// [`Hsm::reset_logged`] with nothing to log.
    pub fn reset(&self) {
        self.reset_logged(|_| {});
    }

    /// Whether the board is stuck waiting for a completion notice.
    pub fn awaiting_completion(&self) -> bool {
        self.board.with(|b| b.awaiting_completion.is_some())
    }

    pub fn shutdown(&self) {
        self.board.with(|b| b.shutdown = true);
    }

    /// Operations computed so far (observer only).
    pub fn operations(&self) -> u64 {
        self.operations.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn cipher(&self) -> &SessionCipher {
        &self.cipher
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::within;
    use crate::platform::Std;
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    fn job(n: u64) -> HsmJob {
        HsmJob {
            telegram: TelegramId(n),
            worker: 0,
            epoch: 1,
            op: HsmOp::Encrypt,
            data: b"card".to_vec(),
        }
    }

    /// Root cause 1 in one board: after raising, the firmware takes no new
    /// request until the CPU fetches the result; a reset ends that wait too.
    #[test]
    fn the_board_waits_for_its_completion_notice_or_a_reset() {
        let hsm = Arc::new(Hsm::<Std>::new(&[7; 32], 0));
        let (raised, raises) = mpsc::channel();
        let firmware = {
            let hsm = hsm.clone();
            std::thread::spawn(move || hsm.run(|_| {}, |r| raised.send(r.telegram).unwrap()))
        };
        let next_raise = || raises.recv_timeout(Duration::from_secs(10));
        hsm.submit(job(1));
        hsm.submit(job(2));
        assert_eq!(next_raise(), Ok(TelegramId(1)));
        assert!(hsm.awaiting_completion());
        let fetched = hsm.complete().map(|r| r.telegram);
        assert_eq!(fetched, Some(TelegramId(1)));
        assert_eq!(
            next_raise(),
            Ok(TelegramId(2)),
            "the notice freed the board"
        );
        assert!(hsm.awaiting_completion());
        hsm.reset();
        assert!(!hsm.awaiting_completion());
        assert_eq!(hsm.complete(), None, "a late interrupt finds nothing");
        hsm.submit(job(3));
        assert_eq!(next_raise(), Ok(TelegramId(3)), "the reset freed the board");
        hsm.shutdown();
        within("Hsm::run after shutdown", move || firmware.join().unwrap());
        assert_eq!(hsm.operations(), 3);
    }
}
