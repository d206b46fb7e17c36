#!/usr/bin/env bash
# The dev container's lifecycle, in one place:
#   lifecycle.sh start    every container start: start the supervisor (it brings back the
#                         actors kept on disk);
#   lifecycle.sh create   once, at creation: the same, then spawn the sample actor.
# Idempotent, and it never makes the container start fail: problems are printed, the exit
# code is always 0.
set -u

mode=${1:-start}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
export EOS_ROOT="${EOS_ROOT:-$repo/eos-root}"
sample_id=last_message
sample_script="$repo/playground/last_message.rn"

say() { printf 'eos lifecycle: %s\n' "$*"; }

case $mode in
  start | create) ;;
  *)
    say "unknown mode '$mode' (use start or create)"
    exit 0
    ;;
esac

if ! command -v eos >/dev/null 2>&1; then
  say "eos is not on PATH; build it with 'cargo build --release' and add target/release to PATH"
  exit 0
fi

if ! eos up; then
  say "the supervisor did not start; see $EOS_ROOT/supervisor.log"
  exit 0
fi

if [ "$mode" = create ]; then
  if [ -d "$EOS_ROOT/running/$sample_id" ]; then
    say "the sample actor $sample_id exists already"
  elif ! eos spawn-script --id "$sample_id" "$sample_script"; then
    say "the sample actor could not be spawned"
  fi
fi
exit 0
