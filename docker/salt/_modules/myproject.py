"""
The deploy steps of a small web project, as Salt execution functions.

Every step appends one line to an evidence file so a test can tell which
minions ran it and how often:

    <myproject_evidence_dir>/<minion id>/<function>

``myproject_evidence_dir`` is read from the minion config (default
``/var/lib/myproject/evidence``). ``update_code`` writes the revision; the
other steps write how many times they have run on that minion.
"""

import os
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "myproject"

DEFAULT_EVIDENCE_DIR = "/var/lib/myproject/evidence"


def __virtual__():
    return __virtualname__


def _minion_id():
    return __opts__["id"]


def _evidence_path(function):
    base = __opts__.get("myproject_evidence_dir") or DEFAULT_EVIDENCE_DIR
    directory = os.path.join(base, _minion_id())
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, function)


def _record(function, line=None):
    path = _evidence_path(function)
    if line is None:
        try:
            with open(path, encoding="utf-8") as handle:
                count = sum(1 for _ in handle)
        except FileNotFoundError:
            count = 0
        line = str(count + 1)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{line}\n")
    return path


def update_code(rev="abc123"):
    """
    Check out revision ``rev``.

    CLI Example:

    .. code-block:: bash

        salt '*' myproject.update_code rev=abc123
    """
    rev = str(rev)
    _record("update_code", rev)
    return {"revision": rev, "minion": _minion_id()}


def collectstatic():
    """
    Collect static files.

    CLI Example:

    .. code-block:: bash

        salt '*' myproject.collectstatic
    """
    _record("collectstatic")
    return True


def restart_apache():
    """
    Restart Apache.

    CLI Example:

    .. code-block:: bash

        salt -G roles:webserver myproject.restart_apache
    """
    _record("restart_apache")
    return True


def restart_supervisord():
    """
    Restart supervisord.

    CLI Example:

    .. code-block:: bash

        salt '*' myproject.restart_supervisord
    """
    _record("restart_supervisord")
    return True


def fail(message="deploy step failed"):
    """
    Fail on purpose (retcode 1), after recording that it ran.

    CLI Example:

    .. code-block:: bash

        salt '*' myproject.fail
    """
    _record("fail")
    raise CommandExecutionError(f"myproject.fail: {message}")


def slow(seconds=5):
    """
    Sleep ``seconds`` then return True, for timeout tests.

    CLI Example:

    .. code-block:: bash

        salt '*' myproject.slow 30
    """
    _record("slow")
    time.sleep(float(seconds))
    return True
