"""Synthetic convoy clips with exact ground truth: the project's test and benchmark factory.

    from convoycount.synth import scenario, generate, render
    truth = generate("clip.mp4", scenario("news_story", seed=3))
    for frame in render(scenario("two_way")): ...   # pixels + exact boxes, no encoding

`build_plan(config).truth` gives the truth without rendering anything.
"""
from .config import CLASS_MIXES, SCENARIOS, SYNTH_CLASSES, SynthConfig, scenario
from .encode import generate
from .plan import build_plan
from .render import RenderedFrame, clock_text, render
from .truth import Truth, VehicleTruth, truth_path


def truth_for(config: SynthConfig) -> Truth:
    """The exact truth of `config` without rendering or encoding (cheap)."""
    return build_plan(config).truth


__all__ = ["SynthConfig", "scenario", "SCENARIOS", "CLASS_MIXES", "SYNTH_CLASSES", "generate", "render",
           "RenderedFrame", "Truth", "VehicleTruth", "truth_path", "truth_for", "build_plan", "clock_text"]
