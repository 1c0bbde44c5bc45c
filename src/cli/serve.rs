use centralino::switchboard::{Paths, Switchboard};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServeArgs {}

pub fn run(paths: &Paths, _args: ServeArgs) -> ExitCode {
    let (sb, warnings) = match Switchboard::load(paths) {
        Ok(x) => x,
        Err(diags) => {
            super::report(&diags);
            eprintln!("the switchboard did not start: fix the errors above");
            return ExitCode::FAILURE;
        }
    };
    for w in &warnings {
        println!("{w}");
    }
    let c = &sb.config;
    println!(
        "switchboard loaded: {} tree(s) ({}), {} called numbers in {} provinces, {} sections, {} operators, {} agencies",
        sb.trees.len(),
        sb.trees.keys().cloned().collect::<Vec<_>>().join(", "),
        c.numbers.len(),
        c.provinces.len(),
        c.sections.len(),
        c.operators.len(),
        c.agencies.len()
    );
    eprintln!(
        "SIP signalling and RTP media are not implemented yet: nothing listens on {} / {}. \
         Walk the voice portal with `centralino simulate --number <number>`.",
        c.sip.udp, c.sip.tcp
    );
    ExitCode::from(2)
}
