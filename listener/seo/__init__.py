"""SEO: which third-party pages outrank the brand's self-service pages in search results, and what they say.

Layout: `questions` (the project file's [[serp]] entries resolved per brand and market), `providers/` (one
module per search provider or saved-page format, one registry), `fetch` (the one place that does HTTP:
timeouts, keys, 429, CAPTCHA pages), `classify` (own self-service / own other / competitor / third-party
by kind), `history` (rank history in the store's SQLite file), `check` (query every question, respecting
cache and quota), `report` (the outrank report and its visibility-weighted negative exposure).
"""
