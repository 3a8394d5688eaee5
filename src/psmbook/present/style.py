"""One look for every figure and page: arm colours, matplotlib defaults, the synthetic-data banner."""

from __future__ import annotations

import matplotlib as mpl

#: Okabe-Ito colours, distinguishable with the common colour-vision deficiencies.
TREATED_COLOUR = "#D55E00"  # vermillion: CRT + anlotinib
CONTROL_COLOUR = "#0072B2"  # blue: CRT alone
NEUTRAL_COLOUR = "#555555"
PUBLISHED_COLOUR = "#999999"


def arm_colours(study) -> dict[str, str]:
    """Arm code -> colour, treated arm first."""
    return {study.treatment.treated: TREATED_COLOUR, study.treatment.control: CONTROL_COLOUR}


def use_book_style() -> None:
    """Matplotlib defaults for the book: readable at phone width, no chart junk."""
    mpl.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "figure.figsize": (7.0, 4.2),
            "font.size": 10.5,
            "axes.titlesize": 11.5,
            "axes.labelsize": 10.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": False,
            "legend.frameon": False,
        }
    )


def synthetic_banner(study, seed: int | None = None, source: str | None = None) -> str:
    """A MyST admonition that no reader can miss, saying the data are synthetic (empty for real data):
    generated from ``seed``, or read from the data file ``source`` (a synthetic cohort exported and read back)."""
    if not study.synthetic:
        return ""
    seed_text = f" (read from `{source}`)" if source else f" (seed {seed})" if seed is not None else ""
    return (
        ":::{admonition} Synthetic data\n:class: warning\n"
        f"Every patient-level number on this page comes from the **synthetic cohort**{seed_text}, "
        "generated to match the paper's published tables. It is not the study's patient data, "
        "which were never published. Counts that the generator was calibrated to agree with the "
        "paper by construction; everything else is what the synthetic patients produced.\n:::"
    )


def show_markdown(text: str) -> None:
    """Display MyST markdown as a cell output (rendered by myst-nb in the site)."""
    from IPython.display import Markdown, display

    if text:
        display(Markdown(text))


#: the prefix of a glued value's MIME types when it is not displayed where it is glued (myst-nb's GLUE_PREFIX)
GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value, display: bool = True) -> None:
    """myst-nb's ``glue``, the same display message: the value's formatted MIME bundle, named in its
    metadata. Written here because importing myst-nb's own imports nbformat and jsonschema, about a second
    of every chapter's kernel on these cores; the site is still built by myst-nb, which reads the message."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    mimebundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = dict(name=name, mime_prefix=prefix)
    ipy_display({prefix + k: v for k, v in mimebundle.items()}, raw=True, metadata=metadata)


def glue_text(name: str, text: str) -> None:
    """Glue a piece of text for the prose, shown without quotes: use it as {glue:md}`name`."""
    from IPython.display import Markdown

    glue(name, Markdown(str(text)), display=False)


def glue_all(values: dict) -> None:
    """Glue every value for the prose, by name: text as {glue:md}`name`, numbers and tables as {glue:}`name`."""
    for name, value in values.items():
        if isinstance(value, str):
            glue_text(name, value)
        else:
            glue(name, value, display=False)
