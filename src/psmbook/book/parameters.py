"""The book's parameters: discovered from the chapters' `parameters` cells, checked before any run.

Each chapter notebook declares its parameters in a cell tagged ``parameters`` with an inline comment
that says what the parameter means (``caliper = 0.2  # caliper, in SD of the logit PS``). papermill
reads those cells without running anything; this module turns them into one list for the whole book
and checks a user's overrides against it, so that an unknown name or a bad value stops the build
before the first chapter runs.
"""
from __future__ import annotations

import ast
import keyword
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


class ParameterError(ValueError):
    """One or more parameter overrides are unknown or invalid; the message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid parameters:\n  - " + "\n  - ".join(self.problems))


@dataclass(frozen=True)
class Parameter:
    """A book parameter: its default, its meaning and the chapters that read it."""

    name: str
    default: Any
    help: str
    chapters: tuple[str, ...] = field(default_factory=tuple)

    @property
    def type_name(self) -> str:
        return "none" if self.default is None else type(self.default).__name__


def chapter_notebooks(chapters_dir: Path) -> list[Path]:
    """The chapter notebooks in reading order (their file names start with the chapter number)."""
    notebooks = sorted(Path(chapters_dir).glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no chapter notebooks (NN_name.ipynb) in {chapters_dir}")
    return notebooks


def chapter_name(notebook: Path) -> str:
    """'01_cohort.ipynb' -> 'cohort'."""
    return Path(notebook).stem.split("_", 1)[1]


def discover(chapters_dir: Path) -> dict[str, Parameter]:
    """Every parameter of every chapter, with its default and meaning.

    A parameter that several chapters declare must have the same default in each of them.
    """
    from psmbook.book.execution import without_iri_format

    without_iri_format()  # before papermill imports nbformat, hence jsonschema: a second of every build
    import papermill

    found: dict[str, Parameter] = {}
    for notebook in chapter_notebooks(chapters_dir):
        chapter = chapter_name(notebook)
        for name, info in papermill.inspect_notebook(str(notebook)).items():
            default = _literal(info["default"])
            help_text = (info.get("help") or "").strip()
            if name in found:
                known = found[name]
                if known.default != default:
                    raise ParameterError([f"parameter {name!r} has default {known.default!r} in "
                                          f"{', '.join(known.chapters)} but {default!r} in {chapter}"])
                found[name] = Parameter(name, default, known.help or help_text, known.chapters + (chapter,))
            else:
                found[name] = Parameter(name, default, help_text, (chapter,))
    return found


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


# Value rules beyond the type of the default. Each returns a problem description or None.
def _nonnegative_int(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else \
        "must be a non-negative integer"


def _positive_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return None if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else \
        "must be a positive number, or none for no caliper"


def _positive_int(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else \
        "must be an integer of at least 1"


def _existing_file_or_none(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return None if Path(str(value)).expanduser().is_file() else f"file {value!r} does not exist"


def _data_file(value: Any) -> str | None:
    """A data file, or pkg:<package>/<file> inside an installed package."""
    if value in (None, ""):
        return None
    from psmbook.cohort.reading import resolve_data_path

    try:
        path = resolve_data_path(str(value))
    except (ValueError, FileNotFoundError, ModuleNotFoundError) as error:
        return str(error)
    return None if path.is_file() else f"file {value!r} does not exist"


def _calipers(value: Any) -> str | None:
    bad = [v for v in value if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0]
    return f"must be positive numbers, got {bad}" if bad or not value else None


def _probability(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1
    return None if ok else "must be a number in (0, 1]"


def _workers(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 1 or value == -1)
    return None if ok else "must be a number of workers of at least 1, or -1 for every core"


def _scheduler(value: Any) -> str | None:
    if value in ("", None):
        return None
    return None if re.fullmatch(r"(tcp|tls|inproc|ws|wss)://\S+|[\w.-]+:\d+", str(value)) else \
        "must be a Dask scheduler address such as tcp://127.0.0.1:8786, or empty"


def _match_order(value: Any) -> str | None:
    from psmbook.matching.result import ORDERS

    return None if value in ORDERS else f"must be one of {', '.join(ORDERS)}"


def _covariate_list(value: Any) -> str | None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(c, str) and c for c in value):
        return "must be a list of covariate column names (empty: the study description's psm covariates)"
    return None


def _formula(value: Any) -> str | None:
    if not value:
        return None
    from psmbook.matching.score import TREATED, formula_covariates

    if not str(value).replace(" ", "").startswith(f"{TREATED}~"):
        return f"must start with '{TREATED} ~' (the treatment indicator), e.g. '{TREATED} ~ C(age_group) + C(sex)'"
    try:
        formula_covariates(str(value))
    except Exception as error:     # patsy's parse errors
        return f"cannot be read as a formula: {error}"
    return None


def _at_least_two(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 2 else \
        "must be an integer of at least 2 (an empirical SE needs two repetitions)"


def check_against_study(values: dict[str, Any], study) -> list[str]:
    """Problems of parameter values that name the study's columns (``covariates``, ``ps_formula``)."""
    from psmbook.matching.score import formula_covariates

    known = study.covariate_columns
    problems = []
    unknown = [c for c in values.get("covariates") or [] if c not in known]
    if unknown:
        problems.append(f"covariates: unknown covariate(s) {unknown} in study {study.name!r}; "
                        f"known: {', '.join(known)}")
    if values.get("ps_formula"):
        unknown = [c for c in formula_covariates(str(values["ps_formula"])) if c not in known]
        if unknown:
            problems.append(f"ps_formula refers to unknown covariate(s) {unknown}; known: {', '.join(known)}")
    if not values.get("covariates") and not values.get("ps_formula") and not study.psm_covariates:
        problems.append(f"study {study.name!r} marks no covariate `psm: true`: name the covariates of the "
                        "propensity-score model with covariates=a,b,c")
    score = values.get("covariates") or ([] if values.get("ps_formula") else [v.column for v in study.psm_covariates])
    for column in [c for c in score if not c.isidentifier() or keyword.iskeyword(c)]:
        safe = re.sub(r"\W", "_", column)
        safe = safe if safe.isidentifier() and not keyword.iskeyword(safe) else f"x_{safe}"
        problems.append(f"covariate {column!r}: the propensity-score formula reads a covariate by its column name, "
                        "which must be letters, digits and underscores, not starting with a digit; rename the column "
                        f"in the data file and the study description (e.g. {safe!r}), or leave it out of the score "
                        "(`psm: false`, or the `covariates` parameter)")
    return problems


RULES: dict[str, Callable[[Any], str | None]] = {
    "seed": _nonnegative_int,
    "caliper": _positive_or_none,
    "ratio": _positive_int,
    "match_order": _match_order,
    "calipers": _calipers,
    "entry_p": _probability,
    "repetitions": _at_least_two,
    "min_cell": _nonnegative_int,
    "n_jobs": _workers,
    "scheduler": _scheduler,
    "covariates": _covariate_list,
    "ps_formula": _formula,
    "data": _data_file,
    "study": _existing_file_or_none,
}
#: parameters whose value may be given as ``none``
NULLABLE = {"caliper", "data", "study"}


def _study_problems(values: dict[str, Any]) -> list[str]:
    """Values that name columns the study description (given or packaged) does not have."""
    from psmbook.study.description import load_study

    try:
        study = load_study(values.get("study") or None)
    except (ValueError, FileNotFoundError) as error:
        return [f"study={values.get('study')!r}: {error}"]
    return check_against_study(values, study)


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """``["seed=7 caliper=0.1"]`` -> ``{"seed": "7", "caliper": "0.1"}``.

    Each item is split as a shell would (``data="my file.csv"`` keeps its space); a word without ``=``
    continues the value before it, so ``-p "data=my file.csv"`` and an unquoted formula such as
    ``ps_formula=_treated ~ C(age_group) + C(sex)`` stay whole.
    """
    parsed: dict[str, str] = {}
    problems = []
    for item in items or []:
        try:
            words = shlex.split(str(item))
        except ValueError as error:  # an unclosed quote
            problems.append(f"{item!r}: {error}")
            continue
        name = None
        for word in words:
            key, sep, value = word.partition("=")
            if sep and key and key.isidentifier():
                name = key.strip()
                parsed[name] = value.strip()
            elif name is not None:
                parsed[name] = f"{parsed[name]} {word}".strip()
            else:
                problems.append(f"{word!r}: expected name=value")
    if problems:
        raise ParameterError(problems)
    return parsed


def coerce(parameter: Parameter, text: str) -> Any:
    """Convert an override given as text to the type of the parameter's default."""
    default = parameter.default
    if text.lower() in {"none", "null"} and (default is None or parameter.name in NULLABLE):
        return None
    if isinstance(default, bool):
        lowered = text.lower()
        if lowered in {"true", "yes", "1"}:
            return True
        if lowered in {"false", "no", "0"}:
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if isinstance(default, float) or (default is None and parameter.name in {"caliper"}):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if isinstance(default, (list, tuple)):
        value = _literal(text) if text.startswith(("[", "(")) else [_literal(t.strip()) for t in text.split(",") if t.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list (a,b,c or ['a', 'b']), got {text!r}")
        return type(default)(value)
    if isinstance(default, dict):
        value = _literal(text)
        if not isinstance(value, dict):
            raise ValueError(f"expected a dict literal, got {text!r}")
        return value
    return text


def resolve(overrides: dict[str, str], parameters: dict[str, Parameter]) -> dict[str, Any]:
    """Check and convert overrides; report every unknown name and bad value at once."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, text in overrides.items():
        if name not in parameters:
            import difflib
            close = difflib.get_close_matches(name, parameters, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown parameter {name!r}{hint}; known: {', '.join(sorted(parameters))}")
            continue
        try:
            value = coerce(parameters[name], text)
        except ValueError as error:
            problems.append(f"{name}: {error}")
            continue
        rule = RULES.get(name)
        problem = rule(value) if rule else None
        if problem:
            problems.append(f"{name}={text!r}: {problem}")
        else:
            values[name] = value
    problems += _study_problems(values)
    if problems:
        raise ParameterError(problems)
    # The defaults themselves must satisfy the rules, or the chapters are inconsistent.
    for name, parameter in parameters.items():
        rule = RULES.get(name)
        if name not in values and rule and rule(parameter.default):
            problems.append(f"default of {name} ({parameter.default!r}) {rule(parameter.default)}")
    if problems:
        raise ParameterError(problems)
    return values


def for_chapter(values: dict[str, Any], parameters: dict[str, Parameter], chapter: str) -> dict[str, Any]:
    """The overrides a chapter declares (papermill injects only these)."""
    return {name: value for name, value in values.items() if chapter in parameters[name].chapters}


def describe(parameters: dict[str, Parameter]) -> str:
    """Every parameter, its default, the chapters that read it and what it means, one block each."""
    import textwrap

    blocks = []
    order = {"cohort": 0, "matching": 1, "response": 2, "survival": 3, "toxicity": 4, "discussion": 5, "lab": 6}
    for p in sorted(parameters.values(), key=lambda p: (min(order.get(c, 9) for c in p.chapters), p.name)):
        head = f"{p.name} = {p.default!r}"
        body = textwrap.fill(p.help, width=96, initial_indent="    ", subsequent_indent="    ")
        blocks.append(f"{head}\n{body}\n    chapters: {', '.join(p.chapters)}")
    return "\n\n".join(blocks)
