//! The `centralino` command: a thin shell over the library.

mod cli;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Centralino Unico Nazionale: the contact-center switchboard.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Configuration file.
    #[arg(long, global = true, default_value = "config/centralino.toml")]
    config: PathBuf,
    /// Directory of the voice-portal trees.
    #[arg(long, global = true, default_value = "ivr-trees")]
    trees: PathBuf,
    /// Directory of the prompt WAVs.
    #[arg(long, global = true, default_value = "sounds")]
    sounds: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the switchboard.
    Serve(cli::serve::ServeArgs),
    /// Check the configuration and every tree (or the given tree files); exit 1 on any error.
    Check {
        /// Tree files to check (default: every tree in --trees).
        files: Vec<PathBuf>,
    },
    /// Walk a tree without a phone: prompts as text, keys from --keys or the keyboard.
    Simulate(cli::simulate::SimulateArgs),
    /// Print the JSON Schema of the tree format, for editors.
    Schema,
    /// Synthesise prompt WAVs from their texts with espeak-ng.
    Prompts(cli::prompts::PromptsArgs),
    /// List the records of finished calls, with their queue events and outcomes.
    Calls(cli::calls::CallsArgs),
    /// Per-section figures (answered, abandoned, service level, waiting) and operators' states,
    /// from the queue journal.
    Stats(cli::stats::StatsArgs),
    /// Copy an embedded store into a shared PostgreSQL store (one node growing into several).
    Migrate(cli::migrate::MigrateArgs),
    /// Apply the retention periods of personal data now (the engine does it every day).
    Purge(cli::purge::PurgeArgs),
    /// Print the digest hashes of an operator's password (read from standard input).
    Passwd {
        /// The operator's user name.
        username: String,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let paths = centralino::switchboard::Paths { config: args.config, trees: args.trees, sounds: args.sounds };
    match args.command {
        Command::Serve(a) => cli::serve::run(&paths, a),
        Command::Check { files } => cli::check::run(&paths, &files),
        Command::Simulate(a) => cli::simulate::run(&paths, a),
        Command::Schema => cli::schema::run(),
        Command::Prompts(a) => cli::prompts::run(&paths, a),
        Command::Calls(a) => cli::calls::run(&paths, a),
        Command::Stats(a) => cli::stats::run(&paths, a),
        Command::Migrate(a) => cli::migrate::run(a),
        Command::Purge(a) => cli::purge::run(&paths, a),
        Command::Passwd { username } => cli::passwd::run(&paths, &username),
    }
}
