"""The ModelZoo summary of a finished run, printed and written (test/launcher.sh calls it).

python -m common.summarize --run_dir RUN --case_dir test/output/0 --case_name NAME --e2e_seconds S
"""

import argparse

from common.summary import print_summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Print and write the ModelZoo summary of a run.")
    parser.add_argument("--run_dir", required=True, help="the training output folder (result.json)")
    parser.add_argument("--case_dir", required=True, help="test/output/<device id>")
    parser.add_argument("--case_name", required=True)
    parser.add_argument("--e2e_seconds", type=float, required=True)
    args = parser.parse_args(argv)
    return print_summary(args.run_dir, args.case_dir, args.case_name, args.e2e_seconds)


if __name__ == "__main__":
    raise SystemExit(main())
