//! Engine configuration (`config/centralino.toml`): addresses, called numbers, provinces and
//! regions, sections, operators, regional centres and agencies. Loaded with serde + toml and
//! cross-checked, so that every mistake is reported with its file, line and column.

mod callback;
pub mod credentials;
mod model;
pub mod numbers;
mod queues;
mod validate;

pub use callback::{AtClosing, CallbackLimits, CallbackSettings, Offer, TrunkConfig};
pub use model::*;
pub use queues::{QueueSettings, RouteConfig};
pub(crate) use validate::Checker;

use crate::diag::{Diagnostic, Diagnostics, Pos};
use std::path::Path;

/// Read, parse and cross-check a configuration file. On failure every problem found is returned.
pub fn load(path: &Path) -> Result<Config, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let mut d = Diagnostics::default();
        d.push(
            Diagnostic::error(path, Pos::new(1, 1), format!("cannot read the configuration: {e}"))
                .hint("check the path (default `config/centralino.toml`, or pass --config FILE)"),
        );
        d
    })?;
    parse(path, &text)
}

/// Parse and cross-check configuration text; `path` is used in diagnostics only.
pub fn parse(path: &Path, text: &str) -> Result<Config, Diagnostics> {
    match parse_lenient(path, text) {
        (Some(config), diags) if !diags.has_errors() => Ok(config),
        (_, diags) => Err(diags),
    }
}

/// Parse and cross-check, returning the parsed configuration even when cross-checks fail,
/// so that trees can still be checked against it (`None` only for a TOML or shape error).
pub fn parse_lenient(path: &Path, text: &str) -> (Option<Config>, Diagnostics) {
    match toml::from_str::<Config>(text) {
        Ok(config) => {
            let diags = validate::validate(path, text, &config);
            (Some(config), diags)
        }
        Err(e) => {
            let pos = e.span().map_or(Pos::new(1, 1), |s| Pos::of_offset(text, s.start));
            let mut d = Diagnostics::default();
            d.push(
                Diagnostic::error(path, pos, e.message().trim().to_string())
                    .hint("fix the TOML at this position; docs/configuration.md lists every field"),
            );
            (None, d)
        }
    }
}

impl Config {
    /// The called number entry for a dialled number, in any usual notation.
    pub fn called_number(&self, dialled: &str) -> Option<&CalledNumber> {
        let n = numbers::normalize_number(dialled)?;
        self.numbers.iter().find(|c| *c.number.get_ref() == n)
    }

    pub fn province(&self, code: &str) -> Option<&Province> {
        self.provinces.get(code)
    }

    pub fn region(&self, id: &str) -> Option<&Region> {
        self.regions.get(id)
    }

    /// An operator by user name.
    pub fn operator(&self, username: &str) -> Option<&Operator> {
        self.operators.iter().find(|o| o.username.get_ref() == username)
    }

    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.get(id)
    }

    /// The tree that answers a called number.
    pub fn tree_of<'a>(&'a self, number: &'a CalledNumber) -> &'a str {
        number.tree.as_ref().unwrap_or(&self.default_tree).get_ref()
    }
}
