#!/bin/sh
# Runs once, on an empty data directory (the postgres image's /docker-entrypoint-initdb.d):
# a role and databases for the Temporal server, and a role and database for aha. Each role owns
# only its own databases; passwords come from the secret files, never from this file.
set -eu

secrets="${SECRETS_DIR:-/run/secrets}"

role_with_databases() {
    role="$1"
    password_file="$2"
    shift 2
    [ -s "$password_file" ] || { echo "init-databases: $password_file is missing or empty" >&2; exit 1; }
    # psql variables quote the password (:'password'), so no character in it can break out.
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        -v role="$role" -v password="$(cat "$password_file")" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
SQL
    for db in "$@"; do
        psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
            -v role="$role" -v db="$db" <<'SQL'
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
        echo "init-databases: database $db owned by $role"
    done
}

role_with_databases temporal "$secrets/temporal_db_password" temporal temporal_visibility
role_with_databases aha "$secrets/aha_db_password" aha
