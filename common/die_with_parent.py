"""Run a module as ``python -m MODULE ARGS...`` would, ending it with SIGTERM when the process
that started it exits (common.orphans):

    python -m common.die_with_parent torch.distributed.run --nproc_per_node 8 -m goturn.train ...

test/launcher.sh starts torchrun so: a launcher killed with SIGKILL takes torchrun with it, and
torchrun's workers follow their torchrun by themselves.
"""

import runpy
import sys

from common.orphans import die_with_parent


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m common.die_with_parent MODULE [ARGS...]")
    die_with_parent()
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
