"""Patient-flow diagram (CONSORT-like): cohort -> arms -> evaluable for response -> matched."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

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


PAPER_POPULATION = "Patients with nodal recurrence treated with CRT\nJanuary 2017 – December 2019"


def plot_patient_flow(
    total: int,
    treated: ArmFlow,
    control: ArmFlow,
    *,
    title: str | None = None,
    matching_note: str = "1:1 propensity-score matching\n(see the Matching chapter)",
    population: str = PAPER_POPULATION,
    evaluable: bool = True,
):
    """Draw the flow of patients; returns the matplotlib Figure. ``evaluable=False`` leaves out the
    "evaluable for response" step (a study without response data)."""
    fig, ax = plt.subplots(figsize=(7.2, 5.4))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    _box(ax, 0.5, 0.92, f"{population}\nn = {total}", NEUTRAL_COLOUR, width=0.62, height=0.12)
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
                f"Evaluable for response\nn = {arm.evaluable}\n({arm.not_evaluable} {arm.not_evaluable_reason})",
                colour,
                height=0.13,
            )
            _arrow(ax, (x, rows["eval"] - 0.07), (x, rows["match"] + 0.06))
        else:
            _arrow(ax, (x, rows["alloc"] - 0.06), (x, rows["match"] + 0.06))
        matched = "matched: not yet computed" if arm.matched is None else f"n = {arm.matched}"
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
