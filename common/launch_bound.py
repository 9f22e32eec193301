"""Run a module as ``python -m`` would, ended with SIGTERM when this process's parent exits
(common.orphans); test/launcher.sh starts torchrun through it.

    python -m common.launch_bound MODULE [ARGS...]
"""

import runpy
import sys

from common.orphans import die_with_parent


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m common.launch_bound MODULE [ARGS...]")
    die_with_parent()
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
