"""Camera motion: the stage that puts every frame into one scene-fixed frame.

    Frame + Detections -CameraEstimator.update-> frame->scene transform (3x3)
    transforms -CameraPath-> scene segments, still or moving, summary
    CameraPath + line + cuts -place_line-> the line in the tracking frame,
                                           the span counted and the spans watched

`register.py` measures how the static scene moved between two pictures (shared
with the motion detector); `estimate.py` accumulates that per frame; `scene.py`
places the counting line and says when it was in view; `transform.py` holds the
small matrix helpers. Tracking and counting then happen in scene pixels, so a
parked car never crosses the line because the phone moved.
"""
