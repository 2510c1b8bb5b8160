#!/usr/bin/env bash
# The four-step quick deploy against a fresh lab (a real salt-master and minions
# web1, web2, redis1 on loopback), started and stopped for you.
#
#   scripts/demo.sh [saltwire deploy options...]   e.g. --out jsonl
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SALT_VERSION="${SALT_VERSION:-3008.4}"
scripts/salt-venv.sh "$SALT_VERSION" >/dev/null
cargo build --release --locked -p saltwire -p saltwire-lab >&2
exec target/release/saltwire-lab -- target/release/saltwire -c '{config_dir}' deploy "$@"
