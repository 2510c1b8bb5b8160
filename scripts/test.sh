#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, unit tests (wire layer on the
# captured vectors), and the real-server tests against a lab of a real
# salt-master with three real minions.
#
#   scripts/test.sh                 # Salt 3008.4
#   SALT_VERSION=3006.29 scripts/test.sh
#   scripts/test.sh --all-versions  # 3006.29, 3007.16 and 3008.4 in turn
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${1:-}" == "--all-versions" ]]; then
  for v in 3006.29 3007.16 3008.4; do
    echo "== Salt $v" >&2
    SALT_VERSION="$v" "$0"
  done
  exit 0
fi

export SALT_VERSION="${SALT_VERSION:-3008.4}"
# The Salt the lab runs, in a project-local, git-ignored venv (pinned).
scripts/salt-venv.sh "$SALT_VERSION" >/dev/null

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The default targets: libraries, binaries, examples (built as the programs the
# lab tests run), integration tests and doc tests.
cargo test --workspace --locked
