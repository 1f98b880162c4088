//! `chukei explore`: stateright's Explorer on one spec and preset.

use crate::adapter::SpecModel;
use crate::checks::SelectionError;
use model::sizes::parse_overrides;
use model::SpecName;
use model::{SharedSpec, SpecJob};
use patches::Preset;
use stateright::Model;
use std::collections::BTreeMap;
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

/// An Explorer request checked before anything is printed: the sizes build
/// the spec and the port is free (for port 0, the free port picked).
#[derive(Debug)]
pub struct ExplorerPlan {
    spec: SpecName,
    preset: Preset,
    sizes: BTreeMap<String, u64>,
    /// The port the Explorer will listen on.
    pub port: u16,
}

/// Checks an Explorer request: `sizes` are `k=v` overrides for this spec,
/// `port` 0 picks a free port.
pub fn plan_explorer(
    spec: SpecName,
    preset: Preset,
    sizes: &[String],
    port: u16,
) -> Result<ExplorerPlan, ExploreError> {
    let sizes =
        parse_overrides(spec.name(), spec.size_params(), sizes).map_err(SelectionError::from)?;
    spec.build(preset.patches(), &sizes, Nothing)
        .map_err(SelectionError::from)?;
    // stateright's server panics on a busy port; say it plainly instead.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|source| ExploreError::Port { port, source })?;
    let port = listener
        .local_addr()
        .map_err(|source| ExploreError::Port { port, source })?
        .port();
    Ok(ExplorerPlan {
        spec,
        preset,
        sizes,
        port,
    })
}

impl ExplorerPlan {
    /// Serves the Explorer on `localhost:port` and blocks for as long as
    /// the process runs.
    pub fn serve(self) -> Result<Infallible, ExploreError> {
        let serve = Serve { port: self.port };
        let Err(invalid) = self.spec.build(self.preset.patches(), &self.sizes, serve);
        Err(SelectionError::from(invalid).into())
    }
}

/// Serves the Explorer on `localhost:port` and blocks for as long as the
/// process runs. `sizes` are `k=v` overrides for this spec.
pub fn serve_explorer(
    spec: SpecName,
    preset: Preset,
    sizes: &[String],
    port: u16,
) -> Result<Infallible, ExploreError> {
    plan_explorer(spec, preset, sizes, port)?.serve()
}

/// Builds the spec and does nothing with it: the sizes are valid.
struct Nothing;

impl SpecJob for Nothing {
    type Output = ();
    fn run<S: SharedSpec>(self, _: S) {}
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
