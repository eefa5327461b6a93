"""Click-through rate by organic position: the weights of the visibility-weighted exposure.

Source: Backlinko with ClickFlow, "We Analyzed 5 Million Google Search Results. Here's What We Learned About
Organic Click Through Rate" (Brian Dean, 2019; https://backlinko.com/google-ctr-stats): Search Console data of
874,929 pages for 5,079,491 queries; average CTR 31.73 % for the first result down to about 3 % for the ninth
and tenth, and 0.78 % for everything from the second page on, spread evenly over positions 11-20 here.
Studies differ by a few points (Advanced Web Ranking's monthly CTR curves, Sistrix 2020) but agree on the
shape: the first three results take most clicks. These are averages over all queries; a question with a
featured snippet or videos above the results gives every organic position less.
"""

from __future__ import annotations

#: position -> share of searchers who click it (0..1)
CTR_BY_POSITION: dict[int, float] = {
    1: 0.3173, 2: 0.2471, 3: 0.1866, 4: 0.1360, 5: 0.0951, 6: 0.0623, 7: 0.0415, 8: 0.0312, 9: 0.0297, 10: 0.0309,
    **{position: 0.0078 / 10 for position in range(11, 21)},
}
PAGE_ONE = 10


def ctr(position: int) -> float:
    """The expected click share of an organic position; 0 beyond the second page (and for SERP features)."""
    return CTR_BY_POSITION.get(position, 0.0)
