# PostgreSQL for the tests and benches (sourced): the installed version's cluster `main`
# (created if missing), started, with the role `centralino_test` that creates throw-away
# databases. Exports CENTRALINO_TEST_PG, the URL of the server's maintenance database.
# shellcheck shell=bash

start_postgres() {
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  local version
  version=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" {print $1; exit}')
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    echo "== creating PostgreSQL $version cluster main"
    $sudo pg_createcluster "$version" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q online; then
    echo "== starting PostgreSQL $version cluster main"
    $sudo pg_ctlcluster "$version" main start
  fi
  local as_postgres=(sudo -u postgres)
  [ "$(id -u)" -ne 0 ] || as_postgres=(runuser -u postgres --)
  "${as_postgres[@]}" psql -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'centralino_test') THEN
    CREATE ROLE centralino_test LOGIN CREATEDB PASSWORD 'centralino_test';
  END IF;
END $$;
SQL
  export CENTRALINO_TEST_PG=postgres://centralino_test:centralino_test@127.0.0.1:5432/postgres
}
