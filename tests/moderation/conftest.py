import pytest


@pytest.fixture
def without_feature_library(settings):
    """Judge the built-in stages alone: the feature library's approved terms change at runtime (and
    have their own tests), so they must not move these expectations."""
    from moderation.pipeline import stages

    settings.MODERATION_STAGES = [s for s in settings.MODERATION_STAGES if s["NAME"] != "moderation.library.FeatureLibrary"]
    stages.cache_clear()
    yield
    stages.cache_clear()
