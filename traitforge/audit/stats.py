"""The statistics of over-representation: intervals, the log-odds test, and FDR control."""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def log_odds_z(y_a, n_a, y_b, n_b, prior_strength: float = 100.0):
    """Log-odds ratio of document frequency in corpus a against b, with an informative prior.

    This is the binary (document-frequency) form of Monroe, Colaresi & Quinn (2008): each
    feature gets a Beta prior centred on its pooled rate with `prior_strength` pseudo-documents,
    which shrinks rare features towards no difference. Returns (delta, z); z > 0 means
    over-represented in a.
    """
    y_a, y_b = np.asarray(y_a, float), np.asarray(y_b, float)
    pooled = (y_a + y_b) / (n_a + n_b)
    # Floors keep the odds finite for a feature in no document or in every one.
    alpha = np.maximum(prior_strength * pooled, 1e-3)
    beta = np.maximum(prior_strength - alpha, 1e-3)
    a1, a0 = y_a + alpha, n_a - y_a + beta
    b1, b0 = y_b + alpha, n_b - y_b + beta
    delta = np.log(a1 / a0) - np.log(b1 / b0)
    var = 1 / a1 + 1 / a0 + 1 / b1 + 1 / b0
    return delta, delta / np.sqrt(var)


def two_proportion_z(y_a, n_a, y_b, n_b):
    """Two-proportion z statistic with the pooled standard error; z > 0 means higher in a."""
    y_a, y_b = np.asarray(y_a, float), np.asarray(y_b, float)
    pooled = (y_a + y_b) / (n_a + n_b)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    diff = y_a / n_a - y_b / n_b
    return np.divide(diff, se, out=np.zeros_like(diff), where=se > 0)


TESTS = ("z", "log-odds")


def over_representation_z(test: str, y_a, n_a, y_b, n_b, prior_strength: float = 100.0):
    """z of over-representation in a against b, by the two-proportion z-test (`z`) or the
    log-odds ratio with an informative prior (`log-odds`)."""
    if test == "z":
        return two_proportion_z(y_a, n_a, y_b, n_b)
    if test == "log-odds":
        return log_odds_z(y_a, n_a, y_b, n_b, prior_strength)[1]
    raise ValueError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")


def still_over(test: str, y_a: int, n_a: int, y_b: int, n_b: int, prior_strength: float = 100.0,
               min_z: float = 3.0, min_lift: float = 1.5) -> bool:
    """Whether y_a of n_a is over-represented against y_b of n_b: z >= `min_z` and lift >=
    `min_lift` (half a unit of smoothing where b has none). What is left of a finding outside
    another one is judged by this (`reconcile.explained`, the n-gram pass's nested phrases)."""
    z = float(over_representation_z(test, y_a, n_a, y_b, n_b, prior_strength))
    return z >= min_z and y_a / n_a >= min_lift * max(y_b, 0.5) / n_b


def upper_p(z):
    """One-sided p-value for over-representation."""
    return ndtr(-np.asarray(z, float))


def benjamini_hochberg(p, hypotheses: int = 0) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order; `hypotheses`, when
    more than len(p), is how many were tested in all (those not given count as p = 1)."""
    p = np.asarray(p, float)
    if len(p) == 0:
        return p
    m = max(len(p), hypotheses)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(len(p))
    out[order] = np.minimum(q, 1.0)
    return out


def length_strata(corpus: np.ndarray, reference: np.ndarray, bins: int = 10
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The length stratum of each unit of both corpora: quantile bins of their lengths pooled,
    so that each stratum compares units of about the same length. Corpus units in a bin with no
    reference unit join the nearest bin that has some (the shorter one on a tie): they must be
    compared with something. (A bin with no corpus unit weighs nothing either way.)"""
    pooled = np.concatenate([corpus, reference]).astype(float)
    edges = np.unique(np.quantile(pooled, np.linspace(0, 1, bins + 1)[1:-1]))
    a, b = np.searchsorted(edges, corpus, side="right"), np.searchsorted(edges, reference, side="right")
    size = len(edges) + 1
    with_ref = np.flatnonzero(np.bincount(b, minlength=size))
    nearest = with_ref[np.abs(np.arange(size)[:, None] - with_ref[None, :]).argmin(1)]
    return nearest[a], b


def mantel_haenszel_z(k_a, n_a, k_b, n_b) -> float:
    """z of the Cochran-Mantel-Haenszel test over strata (arrays: flagged and total units of
    corpus a and b per stratum); z > 0 means over-represented in a within strata."""
    k_a, n_a, k_b, n_b = (np.asarray(x, float) for x in (k_a, n_a, k_b, n_b))
    total, flagged = n_a + n_b, k_a + k_b
    ok = (total > 1) & (n_a > 0) & (n_b > 0)
    expected = n_a[ok] * flagged[ok] / total[ok]
    var = (n_a[ok] * n_b[ok] * flagged[ok] * (total[ok] - flagged[ok])
           / (total[ok] ** 2 * (total[ok] - 1)))
    spread = var.sum()
    return float((k_a[ok] - expected).sum() / np.sqrt(spread)) if spread > 0 else 0.0


def standardised_rate(k_b, n_b, n_a) -> float:
    """The rate of b, stratum by stratum, weighted by a's units per stratum: what b's rate would
    be at a's lengths (direct standardisation). A stratum b lacks takes b's overall rate."""
    k_b, n_b, n_a = (np.asarray(x, float) for x in (k_b, n_b, n_a))
    overall = k_b.sum() / max(n_b.sum(), 1.0)
    rate = np.divide(k_b, n_b, out=np.full(len(n_b), overall), where=n_b > 0)
    return float((rate * n_a).sum() / max(n_a.sum(), 1.0))


def length_design(lengths_a: np.ndarray, lengths_b: np.ndarray) -> np.ndarray:
    """The design of `length_adjusted_z`: intercept, corpus indicator, and for each length
    measure (columns of `lengths_*`: words, characters) its standardised log and the square of
    that, for the units of corpus a and then b."""
    log = np.log1p(np.concatenate([lengths_a, lengths_b]).astype(float))
    log = (log - log.mean(0)) / np.where(log.std(0) > 0, log.std(0), 1.0)
    group = np.r_[np.ones(len(lengths_a)), np.zeros(len(lengths_b))]
    return np.column_stack([np.ones(len(log)), group, log, log * log])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def logistic_fit(x: np.ndarray, y: np.ndarray, iterations: int = 25
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients of a logistic regression of y on the columns of x (Newton-Raphson, with a
    vanishing ridge), and the Hessian at them."""
    beta = np.zeros(x.shape[1])
    ridge = 1e-6 * np.eye(x.shape[1])
    for _ in range(iterations):
        p = _sigmoid(x @ beta)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hessian, x.T @ (y - p))
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    return beta, hessian


def expected_at_lengths(design: np.ndarray, present: np.ndarray, n_a: int) -> float:
    """The reference's (rows n_a on) prevalence at the lengths of the corpus (rows before n_a),
    from a logistic regression on the length columns fitted to the reference alone."""
    x = np.delete(design, 1, axis=1)
    y = present[n_a:].astype(float)
    if y.min() == y.max():
        return float(y.mean())
    beta, _ = logistic_fit(x[n_a:], y)
    return float(_sigmoid(x[:n_a] @ beta).mean())


def length_adjusted_z(design: np.ndarray, present: np.ndarray, clusters: np.ndarray | None = None,
                      iterations: int = 25) -> float | None:
    """Score-test z of the corpus indicator (column 1 of `design`) in a logistic regression of
    presence on it and quadratics in log length: over-representation at equal length, with
    length as a continuous covariate rather than in bins. The model without the indicator is
    fitted (Newton-Raphson) and the indicator's score tested, which stays sound where a Wald
    test breaks down (a pattern the reference never shows). With `clusters` (one id per row,
    e.g. its prompt) the variance is cluster-robust where that is the larger: replies to one
    prompt share its topic, so they are not independent evidence. None where length alone
    predicts presence (a toy corpus whose pattern is all its length): no test is possible."""
    y = present.astype(float)
    if y.min() == y.max():
        return 0.0
    group, nuisance = design[:, 1], np.delete(design, 1, axis=1)
    beta, hessian = logistic_fit(nuisance, y, iterations)
    p = _sigmoid(nuisance @ beta)
    if p[y == 1].mean() > 0.9 and p[y == 0].mean() < 0.1:
        return None  # length alone tells present from absent: collinear here, not an effect
    w = p * (1 - p)
    # The indicator with what length explains of it taken out, so the nuisance fit costs nothing.
    residual = group - nuisance @ np.linalg.solve(hessian, nuisance.T @ (w * group))
    contributions = residual * (y - p)
    variance = float((w * residual * residual).sum())
    if clusters is not None:
        per_cluster = np.bincount(clusters, weights=contributions)
        variance = max(variance, float((per_cluster * per_cluster).sum()))
    return float(contributions.sum() / np.sqrt(variance)) if variance > 0 else 0.0
