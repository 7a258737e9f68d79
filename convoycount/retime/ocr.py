"""Optional OCR engines for reading burned-in clocks. Both run offline.

* `rapidocr`: the PyPI package `rapidocr-onnxruntime` ships its PP-OCRv4 ONNX
  detection and recognition models inside the wheel (~16 MB) and runs them on
  onnxruntime: no download at run time. (The newer `rapidocr` 2.x/3.x package
  fetches its models on first use, so it is not used here.)
* `tesseract`: `pytesseract` plus the `tesseract` binary (Debian
  `tesseract-ocr`), when both are installed.

`load_engine()` returns the first that works, or None and the reason. An engine
has `detect(image) -> [(x1, y1, x2, y2, text, confidence)]` (find and read text
lines in a whole frame) and `read(crop) -> (text, confidence)` (recognise one
line, much cheaper: no detection).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

ENGINES = ("rapidocr", "tesseract")


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self):
        from rapidocr_onnxruntime import RapidOCR      # heavy: onnxruntime sessions
        # The default scales the *short* side up to 736 px (a 640x360 frame becomes
        # 1308x736, 3x the work); cap the long side instead: clock digits stay legible.
        self._ocr = RapidOCR(det_limit_side_len=960, det_limit_type="max")

    def detect(self, image: np.ndarray) -> list:
        result, _ = self._ocr(image, use_cls=False)   # burned-in text is upright
        out = []
        for quad, text, conf in result or []:
            q = np.asarray(quad, dtype=np.float64)
            out.append((float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()),
                        float(q[:, 1].max()), str(text), float(conf)))
        return out

    def read(self, crop: np.ndarray) -> tuple:
        result, _ = self._ocr(crop, use_det=False, use_cls=False, use_rec=True)
        if not result:
            return "", 0.0
        text, conf = result[0]
        return str(text), float(conf)


class TesseractEngine:
    name = "tesseract"

    def __init__(self):
        import pytesseract
        pytesseract.get_tesseract_version()             # raises when the binary is missing
        self._tess = pytesseract

    def detect(self, image: np.ndarray) -> list:
        d = self._tess.image_to_data(image[:, :, ::-1], output_type=self._tess.Output.DICT)
        lines: dict = {}
        for i, word in enumerate(d["text"]):
            if not str(word).strip():
                continue
            key = (d["block_num"][i], d["par_num"][i], d["line_num"][i])
            x, y, w, h = d["left"][i], d["top"][i], d["width"][i], d["height"][i]
            conf = max(0.0, float(d["conf"][i])) / 100.0
            if key in lines:
                x1, y1, x2, y2, text, c = lines[key]
                lines[key] = (min(x1, x), min(y1, y), max(x2, x + w), max(y2, y + h),
                              f"{text} {word}", min(c, conf))
            else:
                lines[key] = (x, y, x + w, y + h, str(word), conf)
        return [tuple(float(v) if j < 4 else v for j, v in enumerate(line)) for line in lines.values()]

    def read(self, crop: np.ndarray) -> tuple:
        text = self._tess.image_to_string(crop[:, :, ::-1], config="--psm 7")
        return text.strip(), 1.0


def load_engine(name: Optional[str] = None):
    """(engine, None) for the first engine that loads (or the named one), else
    (None, reason)."""
    reasons = []
    for n in ([name] if name else ENGINES):
        if n not in ENGINES:
            return None, f"unknown OCR engine {n!r}; choose one of {ENGINES}"
        try:
            return (RapidOcrEngine() if n == "rapidocr" else TesseractEngine()), None
        except Exception as e:      # ImportError, missing binary, broken install: all "not here"
            hint = ("pip install rapidocr-onnxruntime" if n == "rapidocr"
                    else "pip install pytesseract and apt-get install tesseract-ocr")
            reasons.append(f"{n}: {type(e).__name__} ({hint})")
    return None, "no OCR engine available: " + "; ".join(reasons)
