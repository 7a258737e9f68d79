"""Resource limits on what a clip may ask of the machine, checked before any frame
is decoded (overridable: `--max-pixels`, `--max-duration`, or the AnalysisOptions
fields of the same names). Kept in a module of their own, without imports, so the
command line can show the defaults without loading numpy or PyAV.
"""

# 8192x8192 (67 MP) admits every camera format up to 8K DCI (8192x4320, 35 MP) and
# square 8K panoramas; one BGR frame of it is 200 MB and a decoder's reference
# pictures a few hundred MB more, which a laptop holds. A crafted header declaring
# more is refused before a buffer is allocated.
DEFAULT_MAX_PIXELS = 8192 * 8192

# Six hours: longer than any dashcam or CCTV export a claim is checked against, and
# about as much footage as an analysis finishes in a working day on a CPU. A clip
# whose timestamps span more is refused as soon as the packet scan sees it.
DEFAULT_MAX_DURATION_S = 6 * 3600.0

# Below this many pixels a side no vehicle can be told from noise.
MIN_SIDE_PX = 16
