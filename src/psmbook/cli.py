"""Command line: build the book, list its parameters, export the synthetic cohort.

python -m psmbook build -p seed=7 -p caliper=0.1
python -m psmbook params
python -m psmbook cohort --seed 7 --out cohort.parquet
python -m psmbook schema --out examples/study.schema.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from psmbook.book import parameters as params_mod
from psmbook.book import pipeline


def _build(args: argparse.Namespace) -> int:
    overrides = params_mod.parse_assignments(args.param)
    pipeline.build(overrides, out=args.out, force=args.force, jobs=args.jobs)
    return 0


def _params(args: argparse.Namespace) -> int:
    root = pipeline.find_root()
    print(params_mod.describe(params_mod.discover(root / "chapters")))
    print('\nOverride with: make book PARAMS="name=value ..."  or  python -m psmbook build -p name=value')
    return 0


def _cohort(args: argparse.Namespace) -> int:
    from psmbook.cohort.export import export_cohort
    from psmbook.cohort.synthetic import DEFAULT_SEED

    seed = DEFAULT_SEED if args.seed is None else args.seed
    data_path, dictionary_path = export_cohort(args.out, seed=seed)
    print(f"synthetic cohort (seed {seed}) written to {data_path}")
    print(f"data dictionary written to {dictionary_path}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    import json

    from psmbook.study.description import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.out is None:
        print(text, end="")
    else:
        args.out.write_text(text)
        print(f"JSON Schema of a study description written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="psmbook", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="execute every chapter and build the site")
    build.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="override a parameter (repeatable; see `psmbook params`)",
    )
    build.add_argument("--out", type=Path, default=None, help="book folder (default: book/)")
    build.add_argument(
        "--force",
        action="store_true",
        help="execute every chapter, even those unchanged since the last build",
    )
    build.add_argument(
        "--jobs",
        type=int,
        default=2,
        metavar="N",
        help="chapters executed side by side when they do not read each other (default 2)",
    )
    build.set_defaults(run=_build)

    listing = commands.add_parser("params", help="list every parameter with its default and meaning")
    listing.set_defaults(run=_params)

    cohort = commands.add_parser("cohort", help="export the synthetic cohort with its data dictionary")
    cohort.add_argument("--seed", type=int, default=None, help="seed (default: the book's)")
    cohort.add_argument("--out", type=Path, required=True, help="output file, .csv or .parquet")
    cohort.set_defaults(run=_cohort)

    schema = commands.add_parser("schema", help="write the JSON Schema of a study description (for editors)")
    schema.add_argument("--out", type=Path, default=None, help="output file (default: print it)")
    schema.set_defaults(run=_schema)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (params_mod.ParameterError, pipeline.BuildError, ValueError, FileNotFoundError) as error:
        print(f"psmbook: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
