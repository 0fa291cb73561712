"""The demo world, public entry point: users with known tastes, written in the exact Amazon
Reviews 2023 / Google Local formats, plus a truth file per domain.

    folders = write_demo_data("data/demo")            # domain -> folder for the real readers
    ceiling = ceiling_profiles("data/demo", "Books")  # user_id -> profile text from true tastes

It lives in three parts: `demo_world` (latent users, tastes, items, the simulation),
`demo_files` (rows in the real schemas, the truth file, writing) and the word tables in
bluekit/data/demo_words/*.yaml. Write a world from the command line with
`python -m bluekit demo-data`; its headroom (the ceiling profile against the baselines) is
measured by the kit's own pipeline, as in notebook 02 and tests/test_synth.py.
"""
from .demo_files import (GENERATOR_VERSION, broad_text, ceiling_profiles, ceiling_text,
                         ensure_demo_data, profile_text, truth, write_demo_data)
from .demo_world import (DEMO_AMAZON_CATEGORIES, DEMO_DOMAINS, DEMO_GOOGLE_STATE, MAX_EVENTS,
                         MIN_EVENTS, SUBCATEGORIES, THEMES, TIERS, DomainTastes, DomainWorld,
                         Event, Item, LatentUser, SubCategory, build_world, resolve_domain)

__all__ = [
    "DEMO_AMAZON_CATEGORIES", "DEMO_DOMAINS", "DEMO_GOOGLE_STATE", "GENERATOR_VERSION",
    "MAX_EVENTS", "MIN_EVENTS", "SUBCATEGORIES", "THEMES", "TIERS", "DomainTastes", "DomainWorld",
    "Event", "Item", "LatentUser", "SubCategory", "broad_text", "build_world", "ceiling_profiles",
    "ceiling_text", "ensure_demo_data", "profile_text", "resolve_domain", "truth",
    "write_demo_data",
]
