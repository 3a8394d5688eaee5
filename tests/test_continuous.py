"""Continuous covariates: the description, the check of the data, Table 1's summary and tests, the score
model's spline terms, the Cox model's per-step hazard ratio; against scipy, lifelines and R.

The data are the public GBSG2 cohort (lifelines' lymph_node.csv) described by examples/gbsg2_continuous.yaml.
The Table 1 rows and the linear score term of that cohort, and the whole book built on it, are tested
in tests/test_own_data.py.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from psmbook.analysis import continuous, survival, tables
from psmbook.cohort import reading, validation
from psmbook.matching.score import covariate_term, default_formula, fit_propensity, formula_covariates
from psmbook.study.description import load_study, study_from_dict
from rbridge import needs_r, run_r

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gbsg2_continuous.yaml"
DATA = "pkg:lifelines/datasets/lymph_node.csv"
STUDY = load_study(EXAMPLE)


def close(ours, theirs, decimals=4):
    """Equal to ``decimals`` decimals (half a unit of the last one)."""
    return abs(float(ours) - float(theirs)) < 0.5 * 10**-decimals


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(reading.resolve_data_path(DATA))


@pytest.fixture(scope="module")
def cohort(raw) -> pd.DataFrame:
    return validation.prepare_cohort(raw, STUDY)


def _raw_study() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


# ----------------------------------------------------------------------------------------------------
# The study description


def test_a_continuous_covariate_is_described_by_kind_summary_unit_and_step():
    age, size, nodes = STUDY.variable("age"), STUDY.variable("size"), STUDY.variable("nodes")
    assert age.continuous and age.summary == "mean" and age.unit == "years" and age.per == 10 and age.spline_df == 3
    assert size.summary == "median" and size.decimals == 0 and size.spline_df is None
    assert age.levels == {} and age.codes == () and not age.derived
    assert age.per_text == "per 10 years" and nodes.per_text == "per unit (nodes)"
    assert not STUDY.variable("grade").continuous and STUDY.variable("grade").kind == "categorical"
    assert [v.column for v in STUDY.psm_covariates] == ["age", "menopause", "size", "grade", "nodes"] + [
        "prog_recp",
        "estrg_recp",
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"levels": {"a": "A", "b": "B"}}, r"covariates\[0\] \(age\) is continuous .* no levels"),
        ({"bins": [0, 50, 120]}, r"covariates\[0\] \(age\) is continuous .* no bins"),
        ({"kind": "numeric"}, r"covariates\[0\] \(age\)\.kind must be categorical or continuous, got 'numeric'"),
        ({"summary": "mode"}, r"covariates\[0\] \(age\)\.summary: Input should be 'mean' or 'median'"),
        ({"spline_df": 1}, r"covariates\[0\] \(age\)\.spline_df: Input should be greater than or equal to 2"),
        ({"per": 0}, r"covariates\[0\] \(age\)\.per: Input should be greater than 0"),
        ({"colour": "red"}, r"unknown key covariates\[0\] \(age\)\.colour"),
    ],
)
def test_a_continuous_covariate_refuses_what_it_cannot_have_by_name(change, message):
    raw = _raw_study()
    raw["covariates"][0] = {**raw["covariates"][0], **change}
    with pytest.raises(ValueError, match=message):
        study_from_dict(raw)


def test_a_categorical_covariate_refuses_the_keys_of_a_continuous_one():
    raw = _raw_study()
    raw["covariates"][1] = {**raw["covariates"][1], "summary": "median", "unit": "years"}
    with pytest.raises(ValueError, match=r"covariates\[1\] \(menopause\): summary, unit only for a continuous"):
        study_from_dict(raw)
    raw["covariates"][1] = {"column": "menopause", "kind": "categorical"}
    with pytest.raises(ValueError, match=r"missing required key covariates\[1\] \(menopause\)\.levels"):
        study_from_dict(raw)


# ----------------------------------------------------------------------------------------------------
# The data


def test_a_continuous_column_is_kept_as_numbers(raw, cohort):
    for column in ("age", "size", "nodes", "prog_recp", "estrg_recp"):
        assert cohort[column].dtype == float
        assert cohort[column].tolist() == raw[column].astype(float).tolist()
    assert cohort["grade"].tolist() == raw["grade"].astype(str).tolist()  # categorical: codes as text


def test_non_numbers_are_named_with_their_rows_and_missing_values_counted(raw):
    bad = raw.copy()
    bad["age"] = bad["age"].astype(object)
    bad.loc[[4, 11], "age"] = ["fifty", "n/a"]
    bad.loc[[7, 9, 20], "age"] = None
    bad["size"] = bad["size"].astype(object)
    bad.loc[2, "size"] = "2,5"
    problems = validation.validate_cohort(bad, STUDY)
    age = [p for p in problems if p.startswith("column 'age'")]
    assert len(age) == 2
    assert age[0] == (
        "column 'age' (covariate Age, continuous): 2 values not a number: 'fifty' (1 row), 'n/a' (1 row) at "
        "rows 5, 12 (id 5, 12); expected a number (years)"
    )
    assert age[1].startswith(
        "column 'age' (covariate Age, continuous): 3 missing values at rows 8, 10, 21 (id 8, 10, 21); "
        "expected a number (years)"
    )
    assert any("column 'size'" in p and "'2,5'" in p and "row 3 (id 3)" in p for p in problems)
    with pytest.raises(validation.DataError, match="not a number"):
        validation.prepare_cohort(bad, STUDY)


# ----------------------------------------------------------------------------------------------------
# Table 1


def test_summaries_and_tests_are_scipys():
    rng = np.random.default_rng(3)
    x, y = rng.normal(5, 2, 40), rng.normal(6, 3, 55)
    s = continuous.summary_stats(x)
    assert s["n"] == 40 and s["mean"] == pytest.approx(x.mean()) and s["sd"] == pytest.approx(x.std(ddof=1))
    assert (s["q1"], s["median"], s["q3"]) == pytest.approx(tuple(np.percentile(x, [25, 50, 75])))
    assert continuous.compare_arms(x, y, "mean") == (
        pytest.approx(stats.ttest_ind(x, y, equal_var=False).pvalue, rel=1e-12),
        "welch",
    )
    assert continuous.compare_arms(x, y, "median")[0] == pytest.approx(
        stats.mannwhitneyu(x, y, alternative="two-sided").pvalue, rel=1e-12
    )
    assert continuous.summary_text(s, "mean", 2) == f"{x.mean():.2f} ({x.std(ddof=1):.2f})"
    assert math.isnan(continuous.compare_arms([1.0], y, "mean")[0])  # one value: no t-test
    assert continuous.summary_text(continuous.summary_stats([]), "median") == "–"
    with pytest.raises(ValueError, match="unknown summary 'mode'"):
        continuous.compare_arms(x, y, "mode")


def test_a_continuous_summary_of_fewer_than_min_cell_patients_is_hidden(cohort):
    few = pd.concat([cohort[cohort["hormone"] == "2"].head(3), cohort[cohort["hormone"] == "1"].head(30)])
    rows = tables.categorical_rows(few, STUDY, columns=["age", "grade"], test="fisher")
    shown = tables.table1_display(rows, study=STUDY, min_cell=5)
    age = shown.loc[("Age", "mean (SD), years")]
    assert age.iloc[0] == "< 5" and age.iloc[1] == rows.loc[0, "text_control"]
    unsuppressed = tables.table1_display(rows, study=STUDY).loc[("Age", "mean (SD), years")]
    assert unsuppressed.iloc[0] == rows.loc[0, "text_treated"]
    with pytest.raises(ValueError, match="'age' is continuous"):
        tables.crosstab(cohort, "age", STUDY)


# ----------------------------------------------------------------------------------------------------
# The score model


def test_formula_terms_and_the_columns_a_formula_reads():
    assert covariate_term("age", STUDY) == "ns(age, df=3)" and covariate_term("size", STUDY) == "size"
    assert covariate_term("grade", STUDY) == "C(grade)" and covariate_term("size") == "C(size)"  # no study
    assert default_formula(["size", "grade"], STUDY) == "_treated ~ size + C(grade)"
    formula = '_treated ~ ns(age, df=4) + np.log(size) + C(grade, Treatment("2")) + I(nodes**2) + Q("prog_recp")'
    assert formula_covariates(formula) == ["age", "size", "grade", "nodes", "prog_recp"]


def test_a_spline_term_labels_its_basis_and_refuses_too_few_distinct_values(cohort):
    model = fit_propensity(cohort, "hormone", "2", ["age", "menopause"], study=STUDY)
    assert model.formula == "_treated ~ ns(age, df=3) + C(menopause)"
    labels = model.term_labels()
    assert [labels[f"ns(age, df=3)[{i}]"] for i in range(3)] == [f"age, spline basis {i} of 3" for i in (1, 2, 3)]
    assert "`age` as a natural cubic spline with 3 degrees of freedom" in model.terms_text()
    with pytest.raises(ValueError, match="not distinct"):  # nodes: a quarter of the women have 1 node
        fit_propensity(cohort, "hormone", "2", [], formula="_treated ~ ns(nodes, df=6)")


@needs_r
def test_the_score_model_equals_rs_glm_with_splines_ns(raw):
    """R: glm(t ~ splines::ns(age, df = 3) + factor(menopause) + size + nodes, binomial): the same
    fitted scores (the spline bases differ, the curve is the same), the same linear coefficients."""
    model = fit_propensity(
        validation.prepare_cohort(raw, STUDY), "hormone", "2", ["age", "menopause", "size", "nodes"], study=STUDY
    )
    theirs = run_r(
        "f <- glm(t ~ splines::ns(age, df = 3) + factor(menopause) + size + nodes, family = binomial, data = d)\n"
        "out$fitted <- unname(fitted(f)); out$size <- unname(coef(f)['size']); out$nodes <- unname(coef(f)['nodes'])",
        d=raw.assign(t=(raw["hormone"] == 2).astype(int)),
    )
    assert all(close(a, b) for a, b in zip(model.scores, theirs["fitted"]))
    assert close(model.result.params["size"], theirs["size"]) and close(model.result.params["nodes"], theirs["nodes"])


@needs_r
def test_table1_p_values_equal_rs_t_test_and_wilcox_test(cohort):
    """R: t.test(x ~ arm) (Welch) and wilcox.test(x ~ arm, exact = FALSE, correct = TRUE) (ties in the data)."""
    rows = tables.table1_before(cohort, STUDY).set_index("variable")
    d = cohort[["hormone", "age", "size", "nodes", "prog_recp", "estrg_recp"]]
    theirs = run_r(
        "d$arm <- factor(d$hormone, levels = c(2, 1))\n"
        "out$age <- t.test(age ~ arm, data = d)$p.value\n"
        "for (v in c('size', 'nodes', 'prog_recp', 'estrg_recp')) out[[v]] <- wilcox.test("
        "d[[v]][d$arm == 2], d[[v]][d$arm == 1], exact = FALSE, correct = TRUE)$p.value",
        d=d,
    )
    for column, p in theirs.items():
        assert close(rows.loc[column, "p"], p), column


# ----------------------------------------------------------------------------------------------------
# The survival chapter's Cox models


def test_a_continuous_cox_factor_gives_one_hazard_ratio_per_step(cohort):
    factors = {f.column: f for f in survival.covariate_factors(STUDY)}
    age = factors["age"]
    assert age.continuous and age.per == 10 and age.levels == {"continuous": "per 10 years"} and age.contrasts
    design = survival.contrast_indicators(cohort, [age, factors["grade"]])
    assert list(design.columns) == ["age.continuous", "grade.2", "grade.3"]
    assert design["age.continuous"].tolist() == (cohort["age"] / 10).tolist()
    table = survival.cox_univariate(cohort, [age], "survtime", "censdead")
    assert table["level_label"].tolist() == ["per 10 years"] and not table["reference"].any()
    from lifelines import CoxPHFitter

    direct = CoxPHFitter().fit(cohort[["age", "survtime", "censdead"]], "survtime", "censdead")
    assert table.loc[0, "hr"] == pytest.approx(math.exp(10 * direct.params_["age"]), rel=1e-5)
    shown = survival.table3_display([("Univariate", table)], [age])
    assert shown.index.tolist() == [("Age", "per 10 years")]


@needs_r
def test_the_continuous_cox_factor_equals_rs_coxph(cohort):
    """R: coxph(Surv(survtime, censdead) ~ I(age / 10) + I(size / 10) + nodes), Efron ties."""
    factors = {f.column: f for f in survival.covariate_factors(STUDY)}
    chosen = [factors["age"], factors["size"], factors["nodes"]]
    ours = survival.cox_multivariable(cohort, chosen, "survtime", "censdead").table.set_index("factor")
    theirs = run_r(
        "f <- coxph(Surv(survtime, censdead) ~ I(age / 10) + I(size / 10) + nodes, data = d)\n"
        "out$hr <- unname(exp(coef(f))); out$p <- unname(summary(f)$coefficients[, 'Pr(>|z|)'])",
        d=cohort[["survtime", "censdead", "age", "size", "nodes"]],
        packages=["survival"],
    )
    for column, hr, p in zip(("age", "size", "nodes"), theirs["hr"], theirs["p"]):
        assert close(ours.loc[column, "hr"], hr) and close(ours.loc[column, "p"], p), column
