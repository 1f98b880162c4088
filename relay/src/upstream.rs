//! The card management business server: registers cards, with a latency and
//! a bounded number of requests in progress. In process by default; a relay
//! on real threads can be linked to one elsewhere ([`UpstreamLink`],
//! `server::upstream` over TCP).

use crate::platform::{Lock, Millis, Platform, Wait};
use crate::telegram::{CardId, TelegramId, TelegramKind};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// A card management server reached another way than in process. It
/// answers every request: `TelegramKind::ErrorUpstream` when the server
/// cannot be reached or does not answer in time, so the relay answers its
/// CS with that error instead of waiting forever.
pub trait UpstreamLink: Send + Sync {
    fn call(&self, kind: TelegramKind, card: CardId, telegram: TelegramId) -> TelegramKind;
}

#[derive(Debug, Default)]
struct Server {
    in_progress: u32,
    /// The system record: which telegram registered each card.
    registered: BTreeMap<CardId, TelegramId>,
}

/// The upstream server as the relay sees it.
pub struct Upstream<P: Platform> {
    server: P::Mutex<Server>,
    latency: Millis,
    capacity: u32,
    /// Set once, before traffic, to forward every request elsewhere.
    link: OnceLock<Arc<dyn UpstreamLink>>,
}

impl<P: Platform> Upstream<P> {
    pub fn new(latency: Millis, capacity: u32) -> Self {
        Upstream {
            server: P::Mutex::new(Server::default()),
            latency,
            capacity: capacity.max(1),
            link: OnceLock::new(),
        }
    }

    /// Forwards every request to `link` from now on instead of serving it
    /// in process; false if a link was set already.
    pub fn link_to(&self, link: Arc<dyn UpstreamLink>) -> bool {
        self.link.set(link).is_ok()
    }

    /// Forwards one request and waits for the answer. A registration by a
    /// new telegram for a card already registered is refused as unauthorized;
    /// the same telegram again (an idempotent retry) is answered OK.
    pub fn call(&self, kind: TelegramKind, card: CardId, telegram: TelegramId) -> TelegramKind {
        if let Some(link) = self.link.get() {
            return link.call(kind, card, telegram);
        }
        let capacity = self.capacity;
        self.server.wait(|s| {
            if s.in_progress < capacity {
                s.in_progress += 1;
                Wait::Ready(())
            } else {
                Wait::blocked()
            }
        });
        if self.latency > 0 {
            P::sleep(self.latency);
        }
        self.server.with(|s| {
            s.in_progress -= 1;
            if kind != TelegramKind::Register {
                return TelegramKind::ReplyOk;
            }
            match s.registered.get(&card) {
                None => {
                    s.registered.insert(card, telegram);
                    TelegramKind::ReplyOk
                }
                Some(&by) if by == telegram => TelegramKind::ReplyOk,
                Some(_) => TelegramKind::ErrorUnauthorized,
            }
        })
    }

    /// The system record of registered cards.
    pub fn registered(&self) -> BTreeMap<CardId, TelegramId> {
        self.server.with(|s| s.registered.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Std;

    #[test]
    fn registration_is_idempotent_per_telegram_and_refused_for_another() {
        let up = Upstream::<Std>::new(0, 1);
        let card = CardId(1);
        assert_eq!(
            up.call(TelegramKind::Register, card, TelegramId(10)),
            TelegramKind::ReplyOk
        );
        assert_eq!(
            up.call(TelegramKind::Register, card, TelegramId(10)),
            TelegramKind::ReplyOk
        );
        assert_eq!(
            up.call(TelegramKind::Register, card, TelegramId(11)),
            TelegramKind::ErrorUnauthorized
        );
        assert_eq!(
            up.call(TelegramKind::Search, card, TelegramId(12)),
            TelegramKind::ReplyOk
        );
        assert_eq!(up.registered().get(&card), Some(&TelegramId(10)));
    }
}
