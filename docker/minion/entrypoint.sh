#!/bin/sh
# Writes the minion's id and roles grain from the environment, then runs the
# minion in the foreground.
#   MINION_ID=web1 MINION_ROLES=webserver[,other...]
set -eu
: "${MINION_ID:?set MINION_ID}"
{
  echo "id: ${MINION_ID}"
  echo "grains:"
  echo "  roles:"
  echo "${MINION_ROLES:-}" | tr ',' '\n' | sed -n 's/^\(..*\)$/    - \1/p'
} > /etc/salt/minion.d/id.conf
exec salt-minion -l info
