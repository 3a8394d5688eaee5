"""The matching explorer behind ipywidgets controls, for a live Jupyter session: change the matching and
see balance and the estimate move."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from psmbook.lab.explorer import CALIPER_CHOICES, Exploration, MatchSettings, explore, lab_covariates
from psmbook.matching import balance as balance_mod
from psmbook.matching.result import ORDERS


def _caliper_label(value) -> str:
    return "none" if value is None else f"{value:g}"


class Explorer:
    """Widgets for the matching choices, wired to :func:`explore`; every change recomputes at once.

    ``widget`` is the box to display. ``controls`` holds the input widgets (``caliper``, ``ratio``,
    ``replace``, ``order``, ``covariates``); ``summary`` (HTML) shows the numbers, ``overlap_image``
    and ``love_image`` (PNG images) the overlap of the scores and the love plot. ``last`` is the
    latest :class:`Exploration` (None when the settings were invalid), ``message`` the latest error,
    ``updates`` counts recomputations. The score model is a main-effects model of the chosen
    covariates. The figures are PNG images rather than an Output widget, so that the same code runs
    under any frontend and under a batch executor such as papermill.
    """

    def __init__(
        self,
        cohort: pd.DataFrame,
        study,
        settings: MatchSettings,
        *,
        seed: int | None = None,
        conditional_truth: float | None = None,
        figures: bool = True,
    ):
        import ipywidgets as w

        self.cohort, self.study, self.seed = cohort, study, seed
        self.initial = replace(settings, formula=None)
        self.conditional_truth = conditional_truth
        self.figures_enabled = figures
        self.last: Exploration | None = None
        self.message = ""
        self.updates = 0
        self.figures: list = []  # (title, PNG bytes) of the figures shown
        choices = list(CALIPER_CHOICES)
        if settings.caliper not in choices:
            choices = sorted([c for c in choices if c is not None] + [settings.caliper]) + [None]
        else:
            choices = [c for c in choices if c is not None] + [None]
        self._calipers = {_caliper_label(c): c for c in choices}
        style = {"description_width": "10em"}
        layout = w.Layout(width="26em")
        covariate_options = [(label, column) for column, (label, _) in lab_covariates(study, cohort).items()]
        self.controls = {
            "caliper": w.SelectionSlider(
                options=list(self._calipers),
                value=_caliper_label(settings.caliper),
                description="Caliper (SD)",
                continuous_update=False,
                style=style,
                layout=layout,
            ),
            "ratio": w.IntSlider(
                value=settings.ratio,
                min=1,
                max=4,
                description="Controls per treated",
                continuous_update=False,
                style=style,
                layout=layout,
            ),
            "replace": w.Checkbox(
                value=settings.replace, description="Match with replacement", style=style, layout=layout
            ),
            "order": w.Dropdown(
                options=list(ORDERS),
                value=settings.order,
                description="Matching order",
                style=style,
                layout=layout,
            ),
            "covariates": w.SelectMultiple(
                options=covariate_options,
                value=tuple(settings.covariates),
                rows=min(14, len(covariate_options)),
                description="Score covariates",
                style=style,
                layout=layout,
            ),
        }
        self.reset_button = w.Button(description="Back to the book's settings", layout=w.Layout(width="16em"))
        self.reset_button.on_click(lambda _: self.reset())
        self.summary = w.HTML()
        self.overlap_image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.love_image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        controls = w.VBox([*self.controls.values(), self.reset_button])
        self.widget = w.VBox([w.HBox([controls, self.summary]), self.overlap_image, self.love_image])
        self._muted = False
        self.update()

    # -- state -------------------------------------------------------------------------------------
    def settings(self) -> MatchSettings:
        """The settings the widgets show (raises ValueError when no covariate is chosen)."""
        c = self.controls
        return MatchSettings(
            covariates=tuple(c["covariates"].value),
            caliper=self._calipers[c["caliper"].value],
            ratio=int(c["ratio"].value),
            replace=bool(c["replace"].value),
            order=c["order"].value,
        )

    def set(self, **values) -> None:
        """Set several controls at once and recompute once: ``set(caliper=0.1, ratio=2)``."""
        self._muted = True
        try:
            for name, value in values.items():
                if name == "caliper":
                    value = _caliper_label(value)
                elif name == "covariates":
                    value = tuple(value)
                self.controls[name].value = value
        finally:
            self._muted = False
        self.update()

    def reset(self) -> None:
        """Back to the settings the explorer started with (the matching chapter's)."""
        s = self.initial
        self.set(caliper=s.caliper, ratio=s.ratio, replace=s.replace, order=s.order, covariates=s.covariates)

    # -- callbacks ---------------------------------------------------------------------------------
    def _on_change(self, change) -> None:
        if not self._muted:
            self.update()

    def update(self) -> None:
        """Recompute for the current settings and refresh the summary and the plots."""
        self.updates += 1
        try:
            settings = self.settings()
            result = explore(self.cohort, self.study, settings, seed=self.seed)
        except (ValueError, RuntimeError) as error:
            self.last, self.message = None, str(error)
            self.summary.value = f"<p><b>Cannot match with these settings:</b> {error}</p>"
            self._show([])
            return
        self.last, self.message = result, ""
        self.summary.value = self.summary_html(result)
        self._show(self._figures(result) if self.figures_enabled else [])

    def summary_html(self, r: Exploration) -> str:
        """The numbers of one setting as a small HTML table."""
        s = r.settings
        caliper = (
            "no caliper"
            if r.result.caliper is None
            else f"{s.caliper:g} SD = {r.result.caliper:.3f} on the logit scale"
        )
        rows = [
            ("Treated matched", f"{r.treated} of {r.treated + r.unmatched} ({r.unmatched} unmatched)"),
            ("Controls matched", f"{r.controls}"),
            ("Caliper", caliper),
            (
                "Largest |SMD| after matching, score covariates",
                f"{r.max_smd:.3f} ({r.imbalanced} levels ≥ 0.1)",
            ),
            (
                "Largest |SMD| after matching, covariates left out",
                "none left out"
                if np.isnan(r.max_smd_other)
                else f"{r.max_smd_other:.3f} ({r.imbalanced_other} levels ≥ 0.1)",
            ),
            (
                "HR of death (95% CI)",
                f"<b>{r.estimate.hr:.3f}</b> ({r.estimate.ci_low:.3f}–{r.estimate.ci_high:.3f}); {r.estimate.method}",
            ),
        ]
        if r.truth is not None:
            rows.append(("True marginal HR in the matched treated", f"{r.truth:.3f}"))
        if self.conditional_truth is not None:
            rows.append(("True conditional HR", f"{self.conditional_truth:.3f}"))
        body = "".join(f"<tr><td style='padding-right:1em'>{k}</td><td>{v}</td></tr>" for k, v in rows)
        return f"<table>{body}</table>"

    def _figures(self, r: Exploration) -> list:
        import io

        import matplotlib.pyplot as plt

        from psmbook.present.style import CONTROL_COLOUR, TREATED_COLOUR

        arms = self.study.treatment
        matched = pd.Series(r.model.logit.index.isin(r.sample.index), index=r.model.logit.index)
        figures = [
            (
                "overlap",
                balance_mod.overlap_plot(
                    r.model.logit,
                    r.model.treated,
                    matched,
                    colours=(TREATED_COLOUR, CONTROL_COLOUR),
                    labels=(self.study.arm_label(arms.treated), self.study.arm_label(arms.control)),
                ),
            ),
            (
                "love",
                balance_mod.love_plot(
                    r.balance,
                    labels=r.labels,
                    colours=("#999999", "#000000"),
                    title="Absolute standardised mean differences",
                ),
            ),
        ]
        images = []
        for name, fig in figures:
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
            plt.close(fig)
            images.append((name, buffer.getvalue()))
        return images

    def _show(self, images: list) -> None:
        self.figures = images
        found = dict(images)
        self.overlap_image.value = found.get("overlap", b"")
        self.love_image.value = found.get("love", b"")


def build_explorer(
    cohort: pd.DataFrame,
    study,
    settings: MatchSettings,
    *,
    seed: int | None = None,
    conditional_truth: float | None = None,
    figures: bool = True,
) -> Explorer:
    """The live explorer, starting from ``settings``; display ``.widget`` in a notebook."""
    return Explorer(cohort, study, settings, seed=seed, conditional_truth=conditional_truth, figures=figures)
