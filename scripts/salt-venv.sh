#!/usr/bin/env bash
# Create (or finish) a Python venv with a pinned Salt release for the lab.
#
#   scripts/salt-venv.sh [VERSION]
#
# VERSION defaults to $SALT_VERSION, else 3008.4. The venv is
# <repo>/.venvs/salt-<VERSION>; a marker file inside it records a completed
# install, so an interrupted run is finished on the next call. The venv path
# is printed on stdout as the last line; progress goes to stderr.
set -euo pipefail

SUPPORTED="3006.29 3007.16 3008.4"
VERSION="${1:-${SALT_VERSION:-3008.4}}"

case " $SUPPORTED " in
  *" $VERSION "*) ;;
  *)
    echo "salt-venv.sh: unsupported Salt version '$VERSION' (supported: $SUPPORTED)" >&2
    exit 2
    ;;
esac

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venvs/salt-$VERSION"
MARKER="$VENV/.saltwire-venv-ok"

# Extra pins go here if a release stops resolving on its own. The supported
# releases install as they are; 3006.30 / 3007.17 and later do not (they pin a
# certifi that is not on the index), which is why those are not supported.
EXTRA_PINS=()

installed_version() {
  "$VENV/bin/python" -c 'import salt.version; print(salt.version.__version__)' 2>/dev/null || true
}

if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$VERSION" && -x "$VENV/bin/salt-master" ]]; then
  echo "$VENV"
  exit 0
fi

rm -f "$MARKER"
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "salt-venv.sh: creating $VENV" >&2
  rm -rf "$VENV"
  mkdir -p "$REPO/.venvs"
  python3 -m venv "$VENV" >&2
fi

echo "salt-venv.sh: installing salt==$VERSION into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet "salt==$VERSION" "${EXTRA_PINS[@]}" >&2

got="$(installed_version)"
if [[ "$got" != "$VERSION" ]]; then
  echo "salt-venv.sh: $VENV has salt '$got' after install, expected $VERSION" >&2
  exit 1
fi
for bin in salt salt-master salt-minion salt-key salt-run salt-call; do
  if [[ ! -x "$VENV/bin/$bin" ]]; then
    echo "salt-venv.sh: $VENV/bin/$bin is missing after install" >&2
    exit 1
  fi
done

echo "$VERSION" > "$MARKER"
echo "$VENV"
