"""Alerts: detectors over the store's counts, rules (window, sensitivity, minimum volume, cooldown),
explanations, alert state and the channels that deliver them (e-mail, Apprise)."""
