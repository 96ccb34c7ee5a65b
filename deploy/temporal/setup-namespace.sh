#!/bin/sh
# aha's Temporal namespace and search attributes. The admin-tools one-shot of the compose stack
# runs it; run it by hand against any cluster the same way. Re-running it changes nothing.
#   TEMPORAL_ADDRESS     the frontend, e.g. temporal:7233 (required)
#   TEMPORAL_NAMESPACE   default: default
#   NAMESPACE_RETENTION  how long closed cases' histories stay, default: 30d
set -eu

address="${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is not set: name the Temporal frontend, e.g. temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
retention="${NAMESPACE_RETENTION:-30d}"
tries="${SETUP_WAIT_TRIES:-60}"

# aha/search_attributes.py declares these; tests/test_stack.py fails when the two lists differ.
# SQL visibility allows per namespace: Keyword 10, KeywordList 3, Int 3, Datetime 3, others 3.
ATTRIBUTES="
CaseStatus Keyword
SellerId Keyword
Marketplace Keyword
IssueTypes KeywordList
DeactivationDeadline Datetime
CallAttempts Int
AssignedTo Keyword
SlaState Keyword
SellersEvaluated Int
SellersEnrolled Int
"

say() { echo "setup-namespace: $*"; }

# Retries a command until it succeeds: the server answers before it is ready, and a new
# namespace reaches every frontend only when their caches refresh (about 10 s).
retry() {
    n=1
    until "$@" >/dev/null 2>&1; do
        if [ "$n" -ge "$tries" ]; then
            say "giving up after $tries tries: $*" >&2
            "$@" >&2 || true
            exit 1
        fi
        n=$((n + 1))
        sleep 2
    done
}

retry temporal operator cluster health --address "$address"

if temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
    say "namespace $namespace exists"
else
    temporal operator namespace create --address "$address" --namespace "$namespace" \
        --retention "$retention" >/dev/null
    say "namespace $namespace created (retention $retention)"
fi
retry temporal operator search-attribute list --address "$address" --namespace "$namespace"

existing="$(temporal operator search-attribute list --address "$address" --namespace "$namespace")"
echo "$ATTRIBUTES" | while read -r name type; do
    [ -n "$name" ] || continue
    have="$(echo "$existing" | awk -v n="$name" '$1 == n { print $2 }')"
    if [ "$have" = "$type" ]; then
        say "search attribute $name ($type) exists"
    elif [ -n "$have" ]; then
        say "search attribute $name is $have in namespace $namespace, aha needs $type:" \
            "rename one of them; nothing was changed for $name" >&2
        exit 1
    else
        temporal operator search-attribute create --address "$address" \
            --namespace "$namespace" --name "$name" --type "$type" >/dev/null
        say "search attribute $name ($type) created"
    fi
done
