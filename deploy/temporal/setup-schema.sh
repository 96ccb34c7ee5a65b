#!/bin/sh
# The Temporal server's schema in PostgreSQL: the default store (database temporal) and the
# visibility store (temporal_visibility), both created empty by deploy/postgres/init-databases.sh.
# setup-schema -v 0.0 only records a starting version when there is none, and update-schema
# applies the versions the database lacks: re-running it, or running a newer admin-tools image
# before a server upgrade, is safe. The password comes in SQL_PASSWORD (see deploy/env-from-files).
set -eu

host="${POSTGRES_SEEDS:?POSTGRES_SEEDS is not set: name the PostgreSQL host}"
user="${POSTGRES_USER:?POSTGRES_USER is not set: name the role that owns the Temporal databases}"
: "${SQL_PASSWORD:?SQL_PASSWORD is not set: give it (or SQL_PASSWORD_FILE) the role password}"
port="${DB_PORT:-5432}"
schemas=/etc/temporal/schema/postgresql/v12

for store in temporal:temporal visibility:temporal_visibility; do
    dir="${store%%:*}"
    db="${store#*:}"
    sql() { temporal-sql-tool --plugin postgres12 --ep "$host" -p "$port" -u "$user" --db "$db" "$@"; }
    sql setup-schema -v 0.0
    sql update-schema -d "$schemas/$dir/versioned"
    echo "setup-schema: $db is at the latest schema"
done
