use centralino::config::{self, credentials};
use centralino::switchboard::Paths;
use std::io::BufRead;
use std::process::ExitCode;

pub fn run(paths: &Paths, username: &str) -> ExitCode {
    let realm = match config::load(&paths.config) {
        Ok(c) => c.sip.realm,
        Err(d) => {
            super::report(&d.sorted());
            return ExitCode::FAILURE;
        }
    };
    eprintln!("password for {username} (realm {realm}), then Enter:");
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() || line.trim_end_matches(['\r', '\n']).is_empty() {
        eprintln!("error: no password given on standard input");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\r', '\n']);
    println!("ha1_md5 = \"{}\"", credentials::ha1_md5(username, &realm, password));
    println!("ha1_sha256 = \"{}\"", credentials::ha1_sha256(username, &realm, password));
    ExitCode::SUCCESS
}
