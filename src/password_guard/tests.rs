use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::UNIX_EPOCH;

fn t(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, last])
}

/// One guess: checked (and failed) or refused.
fn guess(g: &mut PasswordGuard, account: &str, source: IpAddr, now: SystemTime) -> Result<(), Locked> {
    g.admit(Some(account), source, now)?;
    g.failed(Some(account), source, Channel::Http, now);
    Ok(())
}

#[test]
fn an_account_locks_after_five_failures_for_doubling_times_up_to_the_cap() {
    let mut g = PasswordGuard::new(Policy::default());
    // Five free failures from five addresses (the account counts them all), the sixth locks.
    for i in 0..6 {
        assert_eq!(guess(&mut g, "mrossi", ip(i), t(0)), Ok(()), "failure {i}");
    }
    let locked = g.admit(Some("mrossi"), ip(9), t(1)).unwrap_err();
    assert_eq!(locked, Locked { scope: Scope::Account, retry_after: Duration::from_secs(59) });
    // Another account and the same addresses are not locked.
    assert_eq!(g.admit(Some("gbianchi"), ip(0), t(1)), Ok(()));
    // Each further failure doubles the lock: 2, 4, 8 minutes, then 15 at most.
    let mut now = 60;
    for minutes in [2, 4, 8, 15, 15] {
        assert_eq!(g.admit(Some("mrossi"), ip(7), t(now - 1)).map_err(|l| l.scope), Err(Scope::Account));
        assert_eq!(guess(&mut g, "mrossi", ip(7), t(now)), Ok(()));
        let l = g.admit(Some("mrossi"), ip(8), t(now)).unwrap_err();
        assert_eq!(l.retry_after, Duration::from_secs(minutes * 60));
        now += minutes * 60;
    }
    assert_eq!(g.counts().locks[&Scope::Account], 6);
    assert!(g.counts().refused[&Scope::Account] >= 6);
}

#[test]
fn the_owners_known_address_keeps_working_while_the_account_is_locked() {
    let mut g = PasswordGuard::new(Policy::default());
    let (home, attacker, new_phone) = (ip(1), ip(66), ip(2));
    g.succeeded("mrossi", home, t(0));
    for _ in 0..6 {
        guess(&mut g, "mrossi", attacker, t(10)).unwrap();
    }
    assert!(g.admit(Some("mrossi"), attacker, t(11)).is_err());
    assert_eq!(g.admit(Some("mrossi"), new_phone, t(11)).map_err(|l| l.scope), Err(Scope::Account), "the cost");
    assert_eq!(g.admit(Some("mrossi"), home, t(11)), Ok(()), "known address");
    // The owner's own typos at home lock only home, for the account.
    for _ in 0..6 {
        guess(&mut g, "mrossi", home, t(20)).unwrap();
    }
    assert_eq!(g.admit(Some("mrossi"), home, t(21)).map_err(|l| l.scope), Err(Scope::AccountSource));
    // A week without signing in from home: home is an address like any other.
    assert!(g.is_known("mrossi", home, t(7 * 24 * 3600 - 1)));
    assert!(!g.is_known("mrossi", home, t(7 * 24 * 3600)));
}

#[test]
fn ones_own_successes_buy_no_guesses_at_a_colleagues_password() {
    let mut g = PasswordGuard::new(Policy::default());
    let desk = ip(5);
    let mut checked = 0;
    // Operator B registers every 20 s from his desk and guesses A's password in between.
    for i in 0..1000u64 {
        g.succeeded("gbianchi", desk, t(i * 20));
        if guess(&mut g, "mrossi", desk, t(i * 20 + 1)).is_ok() {
            checked += 1;
        }
    }
    // 5 free, then one per lock: 1+2+4+8 minutes, then every 15 in the remaining ~5.3 hours.
    assert!(checked <= 5 + 4 + 22, "{checked} guesses in 5.5 hours");
    assert_eq!(g.admit(Some("gbianchi"), desk, t(20_001)), Ok(()), "B himself is not locked out");
}

#[test]
fn an_address_spraying_many_accounts_is_locked_but_not_for_accounts_it_knows() {
    let mut g = PasswordGuard::new(Policy::default());
    let nat = ip(3);
    g.succeeded("pgallo", nat, t(0));
    // Unknown user names count against the address only.
    for _ in 0..21 {
        g.admit(None, nat, t(1)).unwrap();
        g.failed(None, nat, Channel::Sip, t(1));
    }
    assert_eq!(g.admit(Some("mrossi"), nat, t(2)).map_err(|l| l.scope), Err(Scope::Source));
    assert_eq!(g.admit(None, nat, t(2)).map_err(|l| l.scope), Err(Scope::Source));
    assert_eq!(g.admit(Some("pgallo"), nat, t(2)), Ok(()), "known there");
    assert_eq!(g.admit(Some("mrossi"), ip(4), t(2)), Ok(()), "other addresses are free");
}

#[test]
fn counts_fade_after_a_quiet_day_and_are_pruned() {
    let mut g = PasswordGuard::new(Policy::default());
    for _ in 0..5 {
        guess(&mut g, "mrossi", ip(1), t(0)).unwrap();
    }
    // A day later the five are forgotten: five more are free.
    for _ in 0..5 {
        guess(&mut g, "mrossi", ip(1), t(24 * 3600)).unwrap();
    }
    assert_eq!(g.admit(Some("mrossi"), ip(1), t(24 * 3600)), Ok(()));
    assert_eq!(g.tracked(), 3);
    g.prune(t(48 * 3600));
    assert_eq!(g.tracked(), 0);
}

#[test]
fn failures_are_logged_once_per_account_and_minute_with_their_count() {
    let mut g =
        PasswordGuard::new(Policy { account: Limit { free: 1000, ..Policy::default().account }, ..Default::default() });
    let drain = |g: &mut PasswordGuard| std::iter::from_fn(|| g.poll_notice()).collect::<Vec<_>>();
    for s in 0..30 {
        g.failed(Some("mrossi"), ip(1), Channel::Sip, t(s));
    }
    let first = drain(&mut g);
    assert!(matches!(&first[0], Notice::Failures { account: Some(a), count: 1, .. } if a == "mrossi"), "{first:?}");
    // The source and the pair locked (20 and 5 free): one notice each, when they locked.
    let locks: Vec<Scope> = first
        .iter()
        .filter_map(|n| match n {
            Notice::Locked { scope, .. } => Some(*scope),
            _ => None,
        })
        .collect();
    assert_eq!(locks.iter().filter(|s| **s == Scope::AccountSource).count(), 25);
    g.prune(t(61));
    let summary = drain(&mut g);
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert!(matches!(&summary[0], Notice::Failures { count: 29, .. }));
    g.prune(t(200));
    assert!(drain(&mut g).is_empty());
}

#[test]
fn maps_stay_bounded_and_locks_are_never_evicted() {
    let mut g = PasswordGuard::new(Policy::default());
    for _ in 0..21 {
        g.failed(None, ip(1), Channel::Sip, t(0));
    }
    for i in 0..MAX_TRACKED as u32 + 100 {
        g.failed(None, IpAddr::from(std::net::Ipv6Addr::from(u128::from(i) + 1)), Channel::Sip, t(1));
        let _ = g.poll_notice();
    }
    assert!(g.tracked() <= MAX_TRACKED);
    assert!(g.admit(None, ip(1), t(2)).is_err(), "the locked address is still locked");
}

/// Random attacks (many addresses, many accounts, the owner's own attempts, any timing): an
/// account is never checked from unknown addresses more often than the policy allows, and the
/// owner at a known address is never refused unless they failed there themselves.
#[test]
fn random_attacks_never_exceed_the_bound() {
    for seed in 0..40 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut g = PasswordGuard::new(Policy::default());
        let home = ip(200);
        g.succeeded("victim", home, t(0));
        let mut now = 1u64;
        let mut checked_unknown = Vec::new();
        let mut owner_failed_at_home = false;
        for _ in 0..5000 {
            now += rng.random_range(0..30);
            let source = ip(rng.random_range(0..50));
            let account = ["victim", "other", "third"][rng.random_range(0..3)];
            match rng.random_range(0..10) {
                0 => {
                    // The owner at home.
                    let admitted = g.admit(Some("victim"), home, t(now));
                    if !owner_failed_at_home {
                        assert_eq!(admitted, Ok(()), "seed {seed} at {now}");
                    }
                    if admitted.is_ok() {
                        if rng.random_bool(0.1) {
                            g.failed(Some("victim"), home, Channel::Sip, t(now));
                            owner_failed_at_home = true;
                        } else {
                            g.succeeded("victim", home, t(now));
                            owner_failed_at_home = false;
                        }
                    }
                }
                _ => {
                    if g.admit(Some(account), source, t(now)).is_ok() {
                        g.failed(Some(account), source, Channel::Http, t(now));
                        if account == "victim" {
                            checked_unknown.push(now);
                        }
                    }
                }
            }
            if rng.random_bool(0.01) {
                g.prune(t(now));
            }
        }
        // Past the free five, two checks of the account are at least a minute apart.
        for w in checked_unknown.windows(2).skip(5) {
            assert!(w[1] - w[0] >= 60, "seed {seed}: checks at {} and {}", w[0], w[1]);
        }
        let hours = (now / 3600 + 1) as usize;
        assert!(checked_unknown.len() <= 5 + 4 + 4 * hours, "seed {seed}: {} in {hours} h", checked_unknown.len());
    }
}
