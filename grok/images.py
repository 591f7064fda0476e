"""p x p grids as small RGB images instead of 12,769-rect Vega heatmaps.

A PNG of a grid is ~100x lighter for the browser than the same grid as Vega marks, which is
what keeps the Replay animating and the Ask page answering fast at p = 113. No matplotlib:
the colour maps are a few anchor colours, linearly interpolated.
"""
from __future__ import annotations

import numpy as np

# Viridis at 9 evenly spaced points; linear interpolation between them is visually the same
# colour map as the Vega heatmaps elsewhere in the app.
_VIRIDIS = np.array([[68, 1, 84], [71, 45, 123], [59, 82, 139], [44, 114, 142], [33, 145, 140],
                     [40, 174, 128], [94, 201, 98], [173, 220, 48], [253, 231, 37]], dtype=float)
_RED_GREEN = np.array([[215, 48, 39], [254, 224, 139], [26, 152, 80]], dtype=float)  # wrong .. right


def _colour(t: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """t in [0, 1] [rows, cols] -> RGB float [rows, cols, 3] along the anchor colours."""
    x = np.clip(t, 0, 1) * (len(anchors) - 1)
    i = np.clip(np.floor(x).astype(int), 0, len(anchors) - 2)
    f = (x - i)[..., None]
    return anchors[i] * (1 - f) + anchors[i + 1] * f


def grid_image(values: np.ndarray, cell: int = 2, lo: float | None = None, hi: float | None = None,
               palette: str = "viridis", highlight: tuple[int, int] | None = None) -> np.ndarray:
    """[rows, cols] values -> [rows*cell, cols*cell, 3] uint8 RGB; each value a cell x cell
    block (sharp pixels). lo / hi default to the values' range; palette "viridis" (dark
    purple .. yellow) or "redgreen" (red .. green); `highlight` outlines one cell in magenta."""
    v = np.asarray(values, dtype=float)
    lo = float(v.min()) if lo is None else lo
    hi = float(v.max()) if hi is None else hi
    t = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    rgb = _colour(t, _VIRIDIS if palette == "viridis" else _RED_GREEN)
    rgb = np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)
    img = np.round(rgb).astype(np.uint8)
    if highlight is not None:
        r, c = highlight
        r0, r1 = max(r * cell - cell, 0), min((r + 2) * cell, img.shape[0])  # a one-cell frame around it
        c0, c1 = max(c * cell - cell, 0), min((c + 2) * cell, img.shape[1])
        mag = np.array([255, 0, 255], dtype=np.uint8)
        img[r0:r1, c0:c0 + cell] = mag
        img[r0:r1, c1 - cell:c1] = mag
        img[r0:r0 + cell, c0:c1] = mag
        img[r1 - cell:r1, c0:c1] = mag
    return img


def viridis_image(values: np.ndarray, cell: int = 2) -> np.ndarray:
    """[rows, cols] values -> viridis RGB image over the values' own range."""
    return grid_image(values, cell)
