#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs
# formatting, lints and every test. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# --- What the tests need -------------------------------------------------------------------
# Debian packages: espeak-ng (prompt synthesis test), sip-tester (sipp: SIP calls against the
# running engine), baresip-core (a real softphone placing a call), chromium and chromium-driver
# (the pages in a real browser, driven through WebDriver), iproute2 (ss: the SIP socket's
# receive buffer in the security tests), postgresql (the shared store), kamailio (the proxy in
# front of the cluster tests' nodes), curl (scripts/cluster.sh waits for the nodes with it; the
# HTTPS tests), openssl (the certificates of the HTTPS and SIP over TLS tests) and npm (axe-core,
# the pages' accessibility test).
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
need_pkgs=()
command -v espeak-ng >/dev/null 2>&1 || need_pkgs+=(espeak-ng)
command -v sipp >/dev/null 2>&1 || need_pkgs+=(sip-tester)
command -v baresip >/dev/null 2>&1 || need_pkgs+=(baresip-core)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_pkgs+=(chromium-driver)
command -v ss >/dev/null 2>&1 || need_pkgs+=(iproute2)
command -v pg_ctlcluster >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v kamailio >/dev/null 2>&1 || need_pkgs+=(kamailio)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
if ((${#need_pkgs[@]})); then
  echo "== installing ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
for tool in espeak-ng sipp baresip chromium chromedriver ss pg_ctlcluster psql pg_dump kamailio curl openssl npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is required by the tests and could not be installed" >&2; exit 1; }
done
# axe-core (the pages' accessibility test), pinned, from the npm registry into target/npm.
AXE_VERSION=4.14.1
if ! grep -qs "\"version\": \"$AXE_VERSION\"" target/npm/node_modules/axe-core/package.json; then
  echo "== installing axe-core $AXE_VERSION (npm)"
  npm install --prefix target/npm --no-audit --no-fund --silent "axe-core@$AXE_VERSION"
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  echo "== installing rustfmt and clippy"
  rustup component add rustfmt clippy
fi

# PostgreSQL (the shared store's tests): started, with the test role; one throw-away database
# per test engine (left-overs of earlier runs are dropped).
source scripts/postgres.sh
start_postgres
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
