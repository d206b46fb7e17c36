#!/usr/bin/env bash
# Draws the message flow from the journal into $EOS_ROOT/trace.md (a Mermaid diagram that
# VS Code's Markdown preview renders) and trace.svg, and opens the Markdown file.
set -eu
root=${EOS_ROOT:?EOS_ROOT is not set}
{
  echo '# Message flow'
  echo
  echo '```mermaid'
  eos trace
  echo '```'
} > "$root/trace.md"
eos trace --format svg -o "$root/trace.svg"
if command -v code >/dev/null 2>&1; then
  code --reuse-window "$root/trace.md"
else
  printf 'wrote %s and %s\n' "$root/trace.md" "$root/trace.svg"
fi
