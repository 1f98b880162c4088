//! `chukei explore`: stateright's Explorer on one spec and preset.

use crate::adapter::SpecModel;
use crate::checks::SelectionError;
use model::cs_block::CsBlock;
use model::irq_order::IrqOrder;
use model::sizes::parse_overrides;
use model::timer_free::TimerFree;
use model::{Spec, SpecName};
use patches::Preset;
use stateright::Model;
use std::convert::Infallible;
use std::net::TcpListener;

/// Why the Explorer could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("cannot listen on localhost:{port}: {source}")]
    Port {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// Serves the Explorer on `localhost:port` and blocks for as long as the
/// process runs. `sizes` are `k=v` overrides for this spec.
pub fn serve_explorer(
    spec: SpecName,
    preset: Preset,
    sizes: &[String],
    port: u16,
) -> Result<Infallible, ExploreError> {
    let sizes =
        parse_overrides(spec.name(), spec.size_params(), sizes).map_err(SelectionError::from)?;
    // stateright's server panics on a busy port; say it plainly instead.
    drop(
        TcpListener::bind(("127.0.0.1", port))
            .map_err(|source| ExploreError::Port { port, source })?,
    );
    let patches = preset.patches();
    let valid = "sizes were just validated";
    match spec {
        SpecName::TimerFree => serve(TimerFree::new(patches, &sizes).expect(valid), port),
        SpecName::IrqOrder => serve(IrqOrder::new(patches, &sizes).expect(valid), port),
        SpecName::CsBlock => serve(CsBlock::new(patches, &sizes).expect(valid), port),
    }
}

fn serve<S>(spec: S, port: u16) -> Result<Infallible, ExploreError>
where
    S: Spec + Send + Sync + 'static,
    S::State: Send + Sync,
    S::Action: Send + Sync,
{
    let _checker = SpecModel::new(spec).checker().serve(("127.0.0.1", port));
    loop {
        std::thread::park();
    }
}
