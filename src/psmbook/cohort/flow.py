"""Patient-flow diagram (CONSORT-like): patients in the file -> excluded by the protocol, rule by rule ->
included -> arms -> evaluable for response -> matched."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from psmbook.present.privacy import COMPLEMENT_TEXT, complementary_mask, count_text, is_suppressed
from psmbook.present.style import CONTROL_COLOUR, NEUTRAL_COLOUR, TREATED_COLOUR


@dataclass(frozen=True)
class ArmFlow:
    """Counts of one arm along the flow; ``matched`` is None until the matching chapter has run."""

    label: str
    allocated: int
    not_evaluable: int
    not_evaluable_reason: str
    matched: int | None = None

    @property
    def evaluable(self) -> int:
        return self.allocated - self.not_evaluable


@dataclass(frozen=True)
class Exclusion:
    """Patients an inclusion rule (or a complete-case covariate) left out: ``n``, of whom ``missing``
    because the value was not recorded."""

    reason: str
    n: int
    missing: int = 0


@dataclass(frozen=True)
class Screening:
    """The patients of the data file (``screened``; ``rows`` of a long file) and the exclusions that
    lead to the analysed cohort, in the order they were applied."""

    screened: int
    exclusions: tuple[Exclusion, ...] = field(default_factory=tuple)
    rows: int | None = None

    @property
    def excluded(self) -> int:
        return sum(e.n for e in self.exclusions)

    @property
    def included(self) -> int:
        return self.screened - self.excluded

    def lines(self, min_cell: int = 0) -> list[str]:
        """One line per exclusion, "age < 18: 12 (2 not recorded)"; counts from 1 to ``min_cell`` - 1 print
        as "< min_cell" (and, when exactly one is hidden, the next smallest as "hidden", since the total
        would give it away)."""
        counts = [e.n for e in self.exclusions]
        hidden = complementary_mask(counts, ["all"] * len(counts), min_cell)
        lines = []
        for e, h in zip(self.exclusions, hidden):
            if h:
                text = count_text(e.n, min_cell) if is_suppressed(e.n, min_cell) else COMPLEMENT_TEXT
            else:
                text = f"{e.n}"
                if e.missing and not (is_suppressed(e.missing, min_cell) or is_suppressed(e.n - e.missing, min_cell)):
                    text += f" ({e.missing} not recorded)"
            lines.append(f"{e.reason}: {text}")
        return lines

    def values(self, min_cell: int = 0) -> dict[str, Any]:
        """The screening as the page shows it, for the results file and the later chapters' flow diagram
        (nothing when the protocol excluded no one by rule)."""
        if not self.exclusions:
            return {}
        return {"flow.screened.n": self.screened_text(min_cell), "flow.excluded": self.lines(min_cell)}

    def screened_text(self, min_cell: int = 0) -> int | str:
        """The patients of the file as the pages show them: a range ("687–690") when the patients excluded
        number 1 to ``min_cell`` - 1, since the file's patients minus the cohort's would give them away."""
        if not is_suppressed(self.excluded, min_cell):
            return self.screened
        return f"{self.included + 1}–{self.included + min_cell - 1}"

    def numbers(self, min_cell: int = 0) -> dict[str, Any]:
        """The patients of the data file and those the protocol left out, for the prose (none without rules)."""
        if not self.exclusions:
            return {}
        numbers: dict[str, Any] = {
            "n_screened": self.screened_text(min_cell),
            "n_excluded": count_text(self.excluded, min_cell),
        }
        if self.rows is not None:
            numbers["n_file_rows"] = self.rows
        return numbers


def screening_shown(values: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`plot_patient_flow`'s ``screened`` and ``excluded`` from a results file's values (none for a
    cohort without inclusion rules)."""
    return {"screened": values.get("flow.screened.n"), "excluded": list(values.get("flow.excluded") or [])}


def _box(ax, x, y, text, colour, width=0.36, height=0.11):
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0.008,rounding_size=0.015",
            linewidth=1.4,
            edgecolor=colour,
            facecolor="white",
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9.5, wrap=True)


def _arrow(ax, start, end):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color=NEUTRAL_COLOUR, lw=1.2))


#: Characters per line of the exclusion box; its line height, in the figure's height units.
EXCLUSION_WIDTH, EXCLUSION_LINE = 46, 0.028


def _screening_height(lines: Sequence[str]) -> float:
    n_lines = 1 + sum(line.count("\n") + 1 for line in lines)
    return 0.3 + EXCLUSION_LINE * n_lines


def _draw_screening(ax, population: str, screened: int | str | None, total: int, lines: Sequence[str]) -> None:
    """The patients of the file, the box of exclusions beside the step down, and the arrow to the included."""
    box = _screening_height(lines) - 0.3 + 0.04
    middle = 0.98 + 0.05 + box / 2
    top = middle + box / 2 + 0.1
    n = "" if screened is None else f"\nn = {screened}"
    _box(ax, 0.5, top, f"{population}{n}", NEUTRAL_COLOUR, width=0.62, height=0.12)
    _arrow(ax, (0.5, top - 0.06), (0.5, 0.98))
    ax.annotate("", xy=(0.53, middle), xytext=(0.5, middle), arrowprops=dict(arrowstyle="-|>", color=NEUTRAL_COLOUR))
    ax.add_patch(
        FancyBboxPatch(
            (0.53, middle - box / 2),
            0.46,
            box,
            boxstyle="round,pad=0.008,rounding_size=0.015",
            linewidth=1.2,
            edgecolor=NEUTRAL_COLOUR,
            facecolor="white",
        )
    )
    excluded = screened - total if isinstance(screened, int) else None  # a range: fewer than min_cell excluded
    heading = "Excluded" + ("" if excluded is None else f" (n = {excluded})")
    ax.text(0.545, middle + box / 2 - 0.015, heading + "\n" + "\n".join(lines), ha="left", va="top", fontsize=8.5)


PAPER_POPULATION = "Patients with nodal recurrence treated with CRT\nJanuary 2017 – December 2019"


def plot_patient_flow(
    total: int,
    treated: ArmFlow,
    control: ArmFlow,
    *,
    title: str | None = None,
    matching_note: str = "propensity-score matching",
    population: str = PAPER_POPULATION,
    evaluable: bool = True,
    screened: int | str | None = None,
    excluded: Sequence[str] = (),
    min_cell: int = 0,
):
    """Draw the flow of patients; returns the matplotlib Figure. Before matching (an arm's ``matched`` is
    None), the last boxes point to the Matching chapter, which draws them with their counts (and its
    ``matching_note``, "1:2 propensity-score matching"). ``evaluable=False`` leaves out the
    "evaluable for response" step (a study without response data). ``excluded``: the lines of
    :meth:`Screening.lines`, drawn in a box beside the step from the ``screened`` patients of the data
    file to the ``total`` included (``screened`` as :meth:`Screening.screened_text` gives it). An arm's
    not-evaluable patients from 1 to ``min_cell`` - 1 print as "< 5", its evaluable ones as a range."""
    lines = [textwrap.fill(line, EXCLUSION_WIDTH, subsequent_indent="   ") for line in excluded]
    extra = _screening_height(lines) if lines else 0.0
    fig, ax = plt.subplots(figsize=(7.2, 5.4 * (1 + extra)))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1 + extra)
    ax.axis("off")
    if lines:
        _draw_screening(ax, population, screened, total, lines)
        top = f"Included in the analysis\nn = {total}"
    else:
        top = f"{population}\nn = {total}"
    _box(ax, 0.5, 0.92, top, NEUTRAL_COLOUR, width=0.62, height=0.12)
    rows = {"alloc": 0.68, "eval": 0.42, "match": 0.14}
    for x, arm, colour in ((0.25, treated, TREATED_COLOUR), (0.75, control, CONTROL_COLOUR)):
        _arrow(ax, (0.5, 0.86), (x, rows["alloc"] + 0.06))
        _box(ax, x, rows["alloc"], f"{arm.label}\nn = {arm.allocated}", colour)
        if evaluable:
            _arrow(ax, (x, rows["alloc"] - 0.06), (x, rows["eval"] + 0.06))
            _box(
                ax,
                x,
                rows["eval"],
                f"Evaluable for response\nn = {_evaluable_text(arm, min_cell)}\n"
                f"({count_text(arm.not_evaluable, min_cell)} {arm.not_evaluable_reason})",
                colour,
                height=0.13,
            )
            _arrow(ax, (x, rows["eval"] - 0.07), (x, rows["match"] + 0.06))
        else:
            _arrow(ax, (x, rows["alloc"] - 0.06), (x, rows["match"] + 0.06))
        matched = "in the Matching chapter" if arm.matched is None else f"n = {arm.matched}"  # not yet matched
        _box(ax, x, rows["match"], f"Propensity-score matched\n{matched}", colour)
    ax.text(
        0.5,
        (rows["eval"] + rows["match"]) / 2 - 0.02,
        matching_note,
        ha="center",
        va="center",
        fontsize=8.5,
        color=NEUTRAL_COLOUR,
        style="italic",
    )
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _evaluable_text(arm: ArmFlow, min_cell: int) -> str:
    """An arm's evaluable patients, or the range they lie in when the not-evaluable ones are too few to show
    (the arm's size minus the evaluable would give them away)."""
    if is_suppressed(arm.not_evaluable, min_cell):
        return f"{arm.allocated - min_cell + 1}–{arm.allocated - 1}"
    return count_text(arm.evaluable, min_cell)


def arm_counts(cohort, study) -> dict[str, int]:
    """Patients in the cohort and in each arm, and those not evaluable for response (0 without response data)."""
    arm = cohort[study.treatment.column]
    treated, control = arm.eq(study.treatment.treated), arm.eq(study.treatment.control)
    counts = {"n_total": len(cohort), "n_treated": int(treated.sum()), "n_control": int(control.sum())}
    not_evaluable = (
        cohort[study.response.column].eq(study.response.not_evaluable) if study.has_response else arm.ne(arm)
    )
    counts["ne_treated"] = int((not_evaluable & treated).sum())
    counts["ne_control"] = int((not_evaluable & control).sum())
    counts["evaluable_treated"] = counts["n_treated"] - counts["ne_treated"]
    counts["evaluable_control"] = counts["n_control"] - counts["ne_control"]
    return counts


def flow_numbers(counts: dict[str, int], study) -> dict[str, object]:
    """:func:`arm_counts` for the prose, with the arms' labels (evaluability only with response data)."""
    shown = ("n_total", "n_treated", "n_control")
    if study.has_response:
        shown += ("ne_treated", "ne_control", "evaluable_treated", "evaluable_control")
    numbers: dict[str, object] = {k: counts[k] for k in shown}
    numbers["treated_label"] = study.arm_label(study.treatment.treated)
    numbers["control_label"] = study.arm_label(study.treatment.control)
    return numbers


def arm_flows(counts: dict[str, int], study, matched: dict[str, int] | None = None) -> tuple[ArmFlow, ArmFlow]:
    """The two arms' boxes of the flow diagram (``matched``: arm code -> matched patients, once known)."""
    reason = study.response.not_evaluable_reason if study.has_response else "not evaluable"
    return tuple(
        ArmFlow(
            study.arm_label(code),
            counts[f"n_{side}"],
            counts[f"ne_{side}"],
            reason,
            matched=None if matched is None else matched[code],
        )
        for code, side in ((study.treatment.treated, "treated"), (study.treatment.control, "control"))
    )
