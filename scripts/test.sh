#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs
# formatting, lints and every test. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# --- What the tests need -------------------------------------------------------------------
# Debian packages: espeak-ng (prompt synthesis test), sip-tester (sipp: SIP calls against the
# running engine), baresip-core (a real softphone placing a call), chromium and chromium-driver
# (the pages in a real browser, driven through WebDriver), iproute2 (ss: the SIP socket's
# receive buffer in the security tests), postgresql (the shared store).
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
need_pkgs=()
command -v espeak-ng >/dev/null 2>&1 || need_pkgs+=(espeak-ng)
command -v sipp >/dev/null 2>&1 || need_pkgs+=(sip-tester)
command -v baresip >/dev/null 2>&1 || need_pkgs+=(baresip-core)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_pkgs+=(chromium-driver)
command -v ss >/dev/null 2>&1 || need_pkgs+=(iproute2)
command -v pg_ctlcluster >/dev/null 2>&1 || need_pkgs+=(postgresql)
if ((${#need_pkgs[@]})); then
  echo "== installing ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
for tool in espeak-ng sipp baresip chromium chromedriver ss pg_ctlcluster psql pg_dump; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is required by the tests and could not be installed" >&2; exit 1; }
done
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  echo "== installing rustfmt and clippy"
  rustup component add rustfmt clippy
fi

# PostgreSQL (the shared store's tests): the installed version's cluster `main`, started, with
# a role that creates one throw-away database per test engine (left-overs of earlier runs are
# dropped here).
pg_version=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" {print $1; exit}')
if [ -z "$pg_version" ]; then
  pg_version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  echo "== creating PostgreSQL $pg_version cluster main"
  $SUDO pg_createcluster "$pg_version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main"' | grep -q online; then
  echo "== starting PostgreSQL $pg_version cluster main"
  $SUDO pg_ctlcluster "$pg_version" main start
fi
as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }
as_postgres "psql -q -v ON_ERROR_STOP=1" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'centralino_test') THEN
    CREATE ROLE centralino_test LOGIN CREATEDB PASSWORD 'centralino_test';
  END IF;
END $$;
SQL
export CENTRALINO_TEST_PG=postgres://centralino_test:centralino_test@127.0.0.1:5432/postgres
for db in $(psql "$CENTRALINO_TEST_PG" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'centralino\_t%'"); do
  psql "$CENTRALINO_TEST_PG" -q -c "DROP DATABASE \"$db\" WITH (FORCE)"
done

# --- Checks -------------------------------------------------------------------------------
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked --all-targets
echo "== centralino check (shipped config and trees)"
# The binary the integration tests ran (a `cargo run` would build it again without the
# dev-dependencies' features).
target/debug/centralino check
