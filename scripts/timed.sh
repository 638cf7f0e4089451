#!/usr/bin/env bash
# Runs a command and says how long it took: `timed.sh NAME COMMAND...`. Keeps its exit status.
set -u
name=$1
shift
start=$SECONDS
"$@"
status=$?
elapsed=$((SECONDS - start))
if ((status == 0)); then
  printf '%s: %d s\n' "$name" "$elapsed" >&2
else
  printf '%s: failed after %d s (exit %d)\n' "$name" "$elapsed" "$status" >&2
fi
exit "$status"
