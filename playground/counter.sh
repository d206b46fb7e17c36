#!/usr/bin/env bash
# An actor in plain bash: every message adds one to {"count": N}.
#
#   eos spawn playground/counter.sh --id tally
#   eos send tally '{}'
#
# The protocol gives it: its id, its state file, the file to read a message from, and the
# folder to send messages into.
id=$1 state=$2 msg=$3 send=$4

handle() {
  count=$(grep -o '[0-9][0-9]*' "$state" 2>/dev/null || echo 0)
  # The message is deleted only once its new state is written: on a full disk it stays, and
  # is handled again when there is room.
  printf '{"count": %d}\n' $((count + 1)) > "$state.tmp" && mv "$state.tmp" "$state" &&
    rm -f "$msg"                      # done: the supervisor delivers the next one
}

# Work in the loop, not in the trap: bash may run a trap again while it is still running.
# SIGUSR1 only has to interrupt `wait`.
trap : USR1
trap 'exit 0' TERM
echo "$id is ready; it can send into $send"
while :; do
  if [ -f "$msg" ] && handle; then
    continue
  fi
  sleep 1 &
  wait $!                             # returns at once when a signal arrives
done
