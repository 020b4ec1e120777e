#!/usr/bin/env bash
# Contract test: the topic table in common/topics.c is the one list of topic
# names. The AsyncAPI document has a channel for exactly the table's topics
# (default prefix), and docs/topics.md is what tools/gen/topics_doc.sh makes
# of the table. Usage: tests/contract/topics.sh <build dir>.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:?usage: topics.sh <build dir>}
failed=0

table=$(env -u MOTCUA_TOPIC_PREFIX -u MOTCUA_CONFIG_FILE "$build/tools/motcua" topics list |
    cut -f1 | sort)
# Channel names: two-space-indented keys under `channels:` until the next
# top-level key.
channels=$(awk '/^channels:/ { on = 1; next } /^[^ #]/ { on = 0 }
    on && /^  [^ #][^:]*:[[:space:]]*$/ { sub(/^  /, ""); sub(/:[[:space:]]*$/, ""); print }' \
    "$root/schemas/asyncapi.yaml" | sort)
if [ -z "$table" ] || [ "$table" != "$channels" ]; then
    echo "topics: schemas/asyncapi.yaml channels differ from the topic table (common/topics.c):" >&2
    diff <(printf '%s\n' "$table") <(printf '%s\n' "$channels") >&2 || true
    failed=$((failed + 1))
else
    echo "topics: asyncapi.yaml has a channel for each of the $(wc -l <<<"$table") topics of the table"
fi

if ! diff -u "$root/docs/topics.md" <("$root/tools/gen/topics_doc.sh" "$build" -) >&2; then
    echo "topics: docs/topics.md is stale: run tools/gen/topics_doc.sh" >&2
    failed=$((failed + 1))
else
    echo "topics: docs/topics.md matches the table"
fi
echo "topics: $((2 - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
