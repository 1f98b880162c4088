//! `chukei explore`: stateright's Explorer on one spec and preset.

use crate::adapter::SpecModel;
use crate::checks::SelectionError;
use model::sizes::parse_overrides;
use model::SpecName;
use model::{SharedSpec, SpecJob};
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
    // Serving never ends: the only way out is a size error.
    let Err(invalid) = spec.build(preset.patches(), &sizes, Serve { port });
    Err(SelectionError::from(invalid).into())
}

/// Serves whichever spec was named, until the process ends.
struct Serve {
    port: u16,
}

impl SpecJob for Serve {
    type Output = Infallible;
    fn run<S: SharedSpec>(self, spec: S) -> Infallible {
        let _checker = SpecModel::new(spec)
            .checker()
            .serve(("127.0.0.1", self.port));
        loop {
            std::thread::park();
        }
    }
}
