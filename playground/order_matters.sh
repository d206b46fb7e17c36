#!/usr/bin/env bash
# What happens if A runs before B? Two withdrawals against one balance of 100, delivered in
# both orders with the debugger, compared, and drawn.
#
#   playground/order_matters.sh [FOLDER]    # the traces go to FOLDER (default: the current one)
#
# It uses the supervisor on $EOS_ROOT (started if needed) and an actor named `bank`, which it
# spawns from playground/bank.rn if there is none. Every step is an ordinary eos command.
set -euo pipefail

out=${1:-.}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
alice='{"withdraw": 70, "who": "alice"}'
bob='{"withdraw": 50, "who": "bob"}'

show() { printf '\n$ %s\n' "$*"; "$@"; }
now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }
# The state once the bank has handled what it was given (a step delivers; handling follows).
state() {
  until [ "$(eos --json pending | jq length)" = 0 ]; do sleep 0.05; done
  eos --json inspect bank | jq -c .state
}

eos up >/dev/null
if ! eos list | grep -q '^bank '; then
  eos spawn-script --id bank "$here/bank.rn" >/dev/null
fi

# Round 1: pause, send both, step them in the order they came: alice, then bob.
first=$(now)
show eos pause
show eos send bank "$alice"
show eos send bank "$bob"
show eos pending
show eos step
show eos step
alice_first=$(state)
echo "state: $alice_first"

# Reset: null makes the script's init() run again at the next message.
# shellcheck disable=SC2016 # the inner shell expands $EOS_ROOT
show sh -c 'echo null > "$EOS_ROOT/running/bank/state.json"'

# Round 2: the same two messages, but bob's is delivered first.
second=$(now)
show eos send bank "$alice"
bob_id=$(eos --json send bank "$bob" | jq -r .id)
echo "\$ eos send bank '$bob'   # id $bob_id"
show eos deliver "$bob_id"
show eos step
bob_first=$(state)
echo "state: $bob_first"
show eos resume

show eos trace --format svg --since "$first" --until "$second" -o "$out/bank-alice-first.svg"
show eos trace --format svg --since "$second" -o "$out/bank-bob-first.svg"
show eos trace --since "$first"

if [ "$alice_first" = "$bob_first" ]; then
  echo "the order made no difference?" >&2
  exit 1
fi
printf '\nalice first: %s\nbob first:   %s\n' "$alice_first" "$bob_first"
