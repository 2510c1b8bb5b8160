#!/usr/bin/env bash
# Benchmark saltwire against `salt` and Python's LocalClient on one fresh lab.
#
#   bash bench/run.sh [--iterations N] [--deploy-iterations N] [--warmup N] [--json FILE]
#
# Builds the release binaries if they are missing (BENCH_BUILD=1 rebuilds
# them anyway), makes the Salt venv if it is missing, starts a lab (salt-master
# + web1, web2, redis1) with saltwire-lab and runs bench/bench.py in it with
# the venv's python. The Markdown report goes to stdout, progress to stderr.
# SALT_VERSION selects the Salt release (default 3008.4).
#
# Peer mode: the lab master lets the id saltwire-bench (--peer-id ID) publish
# (`saltwire-lab --peer`) and auto-accepts its key; bench.py gets the master's
# 127.0.0.1:<ret_port> as --master and runs the peer rounds last.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

SALT_VERSION="${SALT_VERSION:-3008.4}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
SALTWIRE="$TARGET_DIR/release/saltwire"
LAB="$TARGET_DIR/release/saltwire-lab"

if [[ "${BENCH_BUILD:-0}" == 1 || ! -x "$SALTWIRE" || ! -x "$LAB" ]]; then
  echo "bench: building release binaries" >&2
  cargo build --release -p saltwire -p saltwire-lab >&2
fi

VENV="$(scripts/salt-venv.sh "$SALT_VERSION" | tail -n 1)"
PYTHON="$VENV/bin/python"

# A --json path is taken relative to where the script was called from.
args=()
peer_id=saltwire-bench
while (($#)); do
  case "$1" in
    --peer-id)
      [[ $# -ge 2 ]] || { echo "bench: --peer-id needs an ID" >&2; exit 2; }
      peer_id="$2"
      shift 2
      ;;
    --peer-id=*)
      peer_id="${1#--peer-id=}"
      shift
      ;;
    --json)
      [[ $# -ge 2 ]] || { echo "bench: --json needs a FILE" >&2; exit 2; }
      args+=(--json "$(cd "$OLDPWD" && realpath -m -- "$2")")
      shift 2
      ;;
    --json=*)
      args+=(--json "$(cd "$OLDPWD" && realpath -m -- "${1#--json=}")")
      shift
      ;;
    *)
      args+=("$1")
      shift
      ;;
  esac
done

# The lab takes the id as a regex: escape what a regex would read specially.
peer_re="$(printf '%s' "$peer_id" | sed 's/[][\\.^$|?*+(){}]/\\&/g')"

exec "$LAB" --salt-version "$SALT_VERSION" --peer "^${peer_re}$" -- \
  "$PYTHON" "$REPO/bench/bench.py" --config-dir '{config_dir}' --saltwire "$SALTWIRE" \
  --master '{master}' --peer-id "$peer_id" "${args[@]}"
