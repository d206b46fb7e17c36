#!/usr/bin/env bash
# Shows an actor (eos inspect) and opens its state.json in the editor.
set -u
id=${1:?usage: open-state.sh ACTOR_ID}
eos inspect "$id" || exit 1
state="${EOS_ROOT:?EOS_ROOT is not set}/running/$id/state.json"
if command -v code >/dev/null 2>&1; then
  code --reuse-window "$state"
else
  printf 'state: %s\n' "$state"
fi
