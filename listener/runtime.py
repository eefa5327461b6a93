"""The embedded runtime's wiring: settings + project file -> store, brand matcher, scorer, pipeline context.

The CLI, the demo and the Celery tasks all build their pipeline here, so there is one way to do it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from listener.config import Project, Settings, load_project
from listener.pipeline import BrandMatcher, PipelineContext, Scorer
from listener.privacy import private_dir
from listener.store import Store, open_store

log = logging.getLogger(__name__)


def resolve_project(settings: Settings, path: str | Path | None = None) -> Project | None:
    """The project file named on the command line, else LISTENER_PROJECT, else none."""
    chosen = path or settings.project_file
    return load_project(chosen) if chosen else None


def open_settings_store(settings: Settings) -> Store:
    if settings.store_url.startswith("sqlite:"):
        private_dir(settings.data_dir)
    return open_store(settings.store_url)


def brand_matcher(project: Project | None) -> BrandMatcher | None:
    if project is None:
        return None
    return BrandMatcher([(brand.name, brand.query) for brand in project.brands])


def load_project_scorer(settings: Settings, project: Project | None, heads=None) -> Scorer:
    """The transformer scorer with the project's extra topics (zero-shot) and model choice; `heads`: a folder
    from `listener model train -o DIR` (else $LISTENER_HEADS, else the bundled heads)."""
    from listener.nlp import load_scorer

    model = settings.model or (project.project.model if project else None)
    return load_scorer(model=model, topics=list(project.topics) if project else None, heads=heads)


def pipeline_context(settings: Settings, project: Project | None, store: Store, score: bool = True,
                     keep_unmatched: bool | None = None) -> PipelineContext:
    """A pipeline context for this process. Without a project every mention is kept (plain import);
    with one, mentions that match no brand are dropped unless keep_unmatched."""
    from listener.corrections import Corrections

    return PipelineContext(
        store=store,
        matcher=brand_matcher(project),
        scorer=load_project_scorer(settings, project) if score else None,
        keep_unmatched=(project is None) if keep_unmatched is None else keep_unmatched,
        languages=tuple(project.project.languages) if project else (),
        corrections=Corrections.open(settings) if score else None,
    )
