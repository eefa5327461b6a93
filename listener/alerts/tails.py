"""Upper-tail probabilities of count models (Poisson, negative binomial), fast enough to call per bucket.

Mention counts are small integers with many zeros and more spread than a Poisson has (bursts of
replies, a thread taking off), so a Gaussian on them both over-alerts on 0 -> 2 and under-alerts on
real bursts. The negative binomial with mean `mu` and variance `mu + mu**2 / r` covers both: r -> inf is
the Poisson. scipy.special's regularised incomplete gamma/beta give the tails without the per-call
overhead of scipy.stats frozen distributions (~100x slower here, and this runs once per bucket).
"""

from __future__ import annotations

import math

from scipy.special import betainc, gammainc, ndtri


def poisson_sf(observed: float, mu: float) -> float:
    """P(X >= observed) for X ~ Poisson(mu)."""
    if observed <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    # P(X >= k) = P(k, mu), the regularised lower incomplete gamma function.
    return float(gammainc(math.ceil(observed), mu))


def nbinom_sf(observed: float, mu: float, inv_r: float) -> float:
    """P(X >= observed) for a negative binomial with mean mu and variance mu + inv_r * mu**2."""
    if inv_r <= 1e-9:
        return poisson_sf(observed, mu)
    if observed <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    r = 1.0 / inv_r
    p_fail = mu / (r + mu)  # the per-trial probability of a "count" in the Pascal parameterisation
    # P(X >= k) = I_{p_fail}(k, r), the regularised incomplete beta function.
    return float(betainc(math.ceil(observed), r, p_fail))


def nbinom_cdf(observed: float, mu: float, inv_r: float) -> float:
    """P(X <= observed): the lower tail, for drops."""
    if observed < 0:
        return 0.0
    return 1.0 - nbinom_sf(math.floor(observed) + 1, mu, inv_r)


def z_to_p(sensitivity: float) -> float:
    """A one-sided tail probability for a sensitivity given in standard deviations (3 -> 0.00135)."""
    return float(0.5 * math.erfc(sensitivity / math.sqrt(2.0)))


def p_to_z(p: float) -> float:
    """The inverse of z_to_p, capped so certainty does not become infinity."""
    p = min(max(p, 1e-300), 1.0)
    return float(-ndtri(p)) if p < 1.0 else 0.0
