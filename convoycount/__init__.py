"""convoycount: check claims about vehicle footage.

    import convoycount
    report = convoycount.analyze("clip.mp4", speedup=4, claim="nine vehicles in 10 seconds")

The public types are re-exported here; they are imported lazily so that
`convoycount --help` and `convoycount probe` start fast.
"""
__version__ = "0.1.0"

_EXPORTS = {
    "analyze": "pipeline", "Report": "report", "probe": "video", "frames": "video",
    "ClipInfo": "video", "Frame": "video", "Detections": "detect.base",
    "Track": "track", "Tracker": "track", "Line": "count", "LineCounter": "count",
    "CrossingEvent": "count", "TimeMap": "timing", "Claim": "claims",
    "ClaimResult": "claims", "ConvoyCountError": "errors", "InputError": "errors",
}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'convoycount' has no attribute {name!r}")


__all__ = ["__version__", *_EXPORTS]
