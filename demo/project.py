"""The demo's project: the example brands, with sources pointing at the demo's local servers."""

from __future__ import annotations

from listener.config import Project

NIMBUS_QUERY = ('(nimbus OR nimbuspay OR "nimbus wallet" OR نیمبوس OR نيمبس) '
                '-"nimbus 2000" -(ابر) -(سحاب) -(cloud*) -(broom*) -(weather) -(harry) -(asics) -(shoe*) -(gel)')
KESTREL_QUERY = '"kestrel pay" OR kestrelpay OR "کسترل پی" OR "كيسترل باي" OR kestrel'
#: The example project's [[serp]] questions (examples/project.toml; a test keeps the two equal).
SERP_QUESTIONS = [
    {"question": "nimbus reset password", "brand": "Nimbus",
     "own_page": "https://help.nimbus.example/articles/reset-password"},
    {"question": "nimbus transfer pending", "brand": "Nimbus",
     "own_page": "https://help.nimbus.example/articles/pending-transfers"},
    {"question": "بازیابی رمز نیمبوس", "brand": "Nimbus",
     "own_page": "https://help.nimbus.example/fa/articles/reset-password", "lang": "fa", "country": "ir"},
]
ORBIT_QUERY = ('(orbit OR اوربیت OR أوربت) '
               '-(satellite* OR nasa OR space OR iss OR earth OR مدار OR ماهواره OR قمر OR فضا*)')


def demo_project(sources: dict[str, dict] | None = None) -> Project:
    """The demo project; `sources` maps brand name -> BrandSources fields (local URLs) when gathering."""
    sources = sources or {}
    return Project.model_validate({
        "project": {"name": "listener demo", "timezone": "Asia/Dubai", "languages": ["en", "fa", "ar"]},
        "brand": [
            {"name": "Nimbus", "query": NIMBUS_QUERY, "own_domains": ["nimbus.example", "help.nimbus.example"],
             "help_center": "https://help.nimbus.example", "sources": sources.get("Nimbus", {})},
            {"name": "Kestrel Pay", "query": KESTREL_QUERY, "competitor": True, "own_domains": ["kestrelpay.example"],
             "sources": sources.get("Kestrel Pay", {})},
            {"name": "Orbit", "query": ORBIT_QUERY, "competitor": True, "own_domains": ["orbitpay.example"],
             "sources": sources.get("Orbit", {})},
        ],
        "topic": [{"label": "card_delivery",
                   "description": "Ordering a physical debit card, card shipping and delivery delays, lost cards.",
                   "examples": ["still waiting for my card, ordered 3 weeks ago", "کارتم هنوز نرسیده",
                                "البطاقة ما وصلت لحد الآن"]}],
        # One rule: Nimbus mentions beyond what is normal for the hour (listener.alerts); the demo writes the
        # e-mail it would send to a file instead of sending it.
        "alert": [{"name": "Nimbus mention spike", "brand": "Nimbus", "metric": "volume", "window": "1h",
                   "channels": ["mailto:support-leads@nimbus.example"]}],
        "serp": SERP_QUESTIONS,
    })
