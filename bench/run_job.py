"""Run one benchmark job in this process and print its figures, one JSON line each.

python -m bench.run_job JOB SETTINGS_JSON   (called by python -m bench, one process per job)
"""

import json
import sys

from bench.jobs import JOBS_BY_KEY, Settings
from bench.report import figure_record, print_json_lines


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in JOBS_BY_KEY:
        sys.exit(f"usage: python -m bench.run_job JOB SETTINGS_JSON; jobs: {', '.join(JOBS_BY_KEY)}")
    settings = Settings(**json.loads(argv[1]))
    print_json_lines([figure_record(figure) for figure in JOBS_BY_KEY[argv[0]].run(settings)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
