"""Command line: build the book, list its parameters, export the synthetic cohort.

python -m psmbook build -p seed=7 -p caliper=0.1
python -m psmbook params
python -m psmbook cohort --seed 7 --out cohort.parquet
python -m psmbook match --out matched.csv --caliper 0.1     # the matched data, as MatchIt's match.data()
python -m psmbook schema --out examples/study.schema.json

Exit status: 0 done, 1 the data or a chapter failed (nothing published), 2 a usage error (an unknown
option, a bad parameter value, an output format that is not supported).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from psmbook.book import parameters as params_mod
from psmbook.book import pipeline
from psmbook.cohort.validation import DataError, MatchingError
from psmbook.matching.result import ORDERS


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("psmbook")
    except PackageNotFoundError:
        return "unknown (not installed)"


#: Where the full report of bad data goes, patient ids included (a terminal or CI log gets it without them).
ERROR_REPORT = Path(".build") / "data-problems.txt"


def _data_error_summary(error: DataError) -> str:
    """The problems without patient ids; the full report, ids included, written to :data:`ERROR_REPORT`."""
    from psmbook.present.privacy import without_ids

    summary = without_ids(str(error), error.id_column)
    if summary == str(error):
        return summary
    ERROR_REPORT.parent.mkdir(parents=True, exist_ok=True)
    ERROR_REPORT.write_text(str(error) + "\n")
    return f"{summary}\n(the patient ids of these rows: {ERROR_REPORT.resolve()}, on this machine only)"


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


def _caliper(text: str) -> float | None:
    if text.lower() == "none":
        return None
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the caliper must be positive or none, got {text}")
    return value


@contextlib.contextmanager
def _progress(steps: list[str]):
    """A progress bar on stderr over the named steps of a long command (shown only on a terminal: tqdm's
    ``disable=None``); yields the function that marks the current step done and names the next."""
    from tqdm import tqdm

    with tqdm(total=len(steps), desc=steps[0], unit="step", disable=None, file=sys.stderr, leave=False) as bar:

        def done() -> None:
            bar.update(1)
            if bar.n < len(steps):
                bar.set_description(steps[bar.n])

        yield done


def _match(args: argparse.Namespace) -> int:
    from psmbook.cohort import protocol, validation
    from psmbook.cohort.synthetic import DEFAULT_SEED, generate_cohort
    from psmbook.matching.export import SUFFIXES, match_data, write_match_data
    from psmbook.study.description import load_study

    if args.out.suffix not in SUFFIXES:  # refused before any work
        raise ValueError(f"--out {args.out}: the matched data are written as {' or '.join(SUFFIXES)}")
    if bool(args.data) != bool(args.study):
        raise ValueError("--data and --study go together: your cohort's file and its study description")
    study = load_study(args.study)
    seed = DEFAULT_SEED if args.seed is None else args.seed
    covariates = [c.strip() for c in args.covariates.split(",") if c.strip()] if args.covariates else None
    for column in covariates or []:
        study.variable(column)  # ValueError naming the covariate the description does not know
    with _progress(["reading and checking the cohort", "score model and matching", "writing"]) as step:
        cohort = protocol.load_cohort(args.data, study).cohort if args.data else generate_cohort(seed)
        step()
        matched = match_data(
            cohort, study, covariates=covariates, ps_formula=args.ps_formula or None, caliper=args.caliper,
            ratio=args.ratio, replace=args.replace, order=args.order, seed=seed,
        )  # fmt: skip
        step()
        treated = matched[study.treatment.column].eq(study.treatment.treated)
        n_treated = int(cohort[study.treatment.column].eq(study.treatment.treated).sum())
        validation.check_matchable(
            int(treated.sum()), n_treated, "none" if args.caliper is None else f"{args.caliper:g} SD"
        )
        path = write_match_data(matched, args.out)
        step()
    print(
        f"{int(treated.sum())} of {n_treated} treated patients matched to {int((~treated).sum())} controls "
        f"in {matched['subclass'].nunique()} sets; written to {path}"
    )
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
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

    match = commands.add_parser(
        "match", help="match as the matching chapter does and write the matched data (MatchIt's match.data())"
    )
    match.add_argument("--out", type=Path, required=True, help="output file, .csv or .parquet")
    match.add_argument("--data", default="", help="your cohort's data file (default: the synthetic cohort)")
    match.add_argument("--study", default=None, help="your cohort's study description (YAML), with --data")
    match.add_argument("--seed", type=int, default=None, help="seed of the synthetic cohort and of a random order")
    match.add_argument("--covariates", default="", help="comma-separated covariates (default: those with psm: true)")
    match.add_argument("--ps-formula", default="", help="a formula replacing the main-effects score model")
    match.add_argument("--caliper", type=_caliper, default=0.2, help="caliper in SD of the logit score, or none")
    match.add_argument("--ratio", type=int, default=1, help="controls per treated patient (1:k)")
    match.add_argument("--replace", action="store_true", help="match with replacement")
    match.add_argument("--order", default="largest", choices=ORDERS, help="order in which treated patients choose")
    match.set_defaults(run=_match)

    schema = commands.add_parser("schema", help="write the JSON Schema of a study description (for editors)")
    schema.add_argument("--out", type=Path, default=None, help="output file (default: print it)")
    schema.set_defaults(run=_schema)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except DataError as error:  # the data: every problem, the patients' ids only in the local report
        print(f"psmbook: error: {_data_error_summary(error)}", file=sys.stderr)
        return 1
    except (MatchingError, pipeline.BuildError) as error:  # a chapter failed
        print(f"psmbook: error: {error}", file=sys.stderr)
        return 1
    except (params_mod.ParameterError, ValueError, FileNotFoundError) as error:  # the call's words are off
        print(f"psmbook: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
