"""p x p grids as small RGB images instead of 12,769-rect Vega heatmaps.

A PNG of a grid is ~100x lighter for the browser than the same grid as Vega marks, which is
what keeps the Replay animating and the Ask page answering fast at p = 113. No matplotlib:
the colour maps are a few anchor colours, linearly interpolated. Colours come from
grok.palette, so "right" / "wrong" and the ablation outcomes mean the same on every page.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

from . import palette

# Viridis at 9 evenly spaced points; linear interpolation between them is visually the same
# colour map as the Vega heatmaps elsewhere in the app.
_VIRIDIS = np.array([[68, 1, 84], [71, 45, 123], [59, 82, 139], [44, 114, 142], [33, 145, 140],
                     [40, 174, 128], [94, 201, 98], [173, 220, 48], [253, 231, 37]], dtype=float)


def _rgb(hex_colour: str) -> list[int]:
    h = hex_colour.lstrip("#")
    return [int(h[i:i + 2], 16) for i in (0, 2, 4)]


# wrong .. right: palette.WRONG (vermillion) .. a light middle .. palette.RIGHT (blue), colour-blind safe
_WRONG_RIGHT = np.array([_rgb(palette.WRONG), [240, 240, 240], _rgb(palette.RIGHT)], dtype=float)
# blue .. white .. vermillion for signed values
_DIVERGING = np.array([_rgb(palette.RIGHT), [247, 247, 247], _rgb(palette.WRONG)], dtype=float)
PALETTES = {"viridis": _VIRIDIS, "rightwrong": _WRONG_RIGHT, "redgreen": _WRONG_RIGHT, "diverging": _DIVERGING}


def _colour(t: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """t in [0, 1] [rows, cols] -> RGB float [rows, cols, 3] along the anchor colours."""
    x = np.clip(t, 0, 1) * (len(anchors) - 1)
    i = np.clip(np.floor(x).astype(int), 0, len(anchors) - 2)
    f = (x - i)[..., None]
    return anchors[i] * (1 - f) + anchors[i + 1] * f


def cell_size(p: int, target: int = 460) -> int:
    """Pixels per cell so a p x p grid is about `target` px wide (at least 2, so cells stay sharp)."""
    return max(2, target // max(p, 1))


def outline(img: np.ndarray, cell: int, r: int, c: int) -> np.ndarray:
    """Outline cell (r, c) INSIDE its own block (black frame, white core border when the cell is
    big enough): the highlight covers exactly that one cell at any p."""
    t = max(1, cell // 5)
    r0, c0 = r * cell, c * cell
    blk = img[r0:r0 + cell, c0:c0 + cell]
    blk[:t], blk[-t:], blk[:, :t], blk[:, -t:] = 0, 0, 0, 0
    if cell >= 4 * t + 2:
        blk[t:2 * t, t:-t], blk[-2 * t:-t, t:-t], blk[t:-t, t:2 * t], blk[t:-t, -2 * t:-t] = 255, 255, 255, 255
    return img


def grid_image(values: np.ndarray, cell: int = 2, lo: float | None = None, hi: float | None = None,
               palette: str = "viridis", highlight: tuple[int, int] | None = None) -> np.ndarray:
    """[rows, cols] values -> [rows*cell, cols*cell, 3] uint8 RGB; each value a cell x cell
    block (sharp pixels). lo / hi default to the values' range; palette "viridis" (dark
    purple .. yellow), "rightwrong" (vermillion .. blue; "redgreen" is the old name) or
    "diverging" (blue .. white .. vermillion); `highlight` outlines one cell, inside it."""
    v = np.asarray(values, dtype=float)
    lo = float(v.min()) if lo is None else lo
    hi = float(v.max()) if hi is None else hi
    t = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    rgb = _colour(t, PALETTES[palette])
    rgb = np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)
    img = np.round(rgb).astype(np.uint8)
    if highlight is not None:
        outline(img, cell, *highlight)
    return img


def category_image(codes: np.ndarray, colours: list[str], cell: int = 2, highlight: tuple[int, int] | None = None) -> np.ndarray:
    """[rows, cols] integer codes -> RGB image, code i drawn in colours[i] (hex)."""
    lut = np.array([_rgb(c) for c in colours], dtype=np.uint8)
    img = lut[np.asarray(codes, dtype=int)]
    img = np.repeat(np.repeat(img, cell, axis=0), cell, axis=1)
    if highlight is not None:
        outline(img, cell, *highlight)
    return img


def viridis_image(values: np.ndarray, cell: int = 2) -> np.ndarray:
    """[rows, cols] values -> viridis RGB image over the values' own range."""
    return grid_image(values, cell)


def png_bytes(rgb: np.ndarray) -> bytes:
    """[h, w, 3] uint8 -> PNG file bytes (zlib and the PNG chunks; no imaging library). Pages
    cache these bytes, so a redraw of the same picture encodes nothing."""
    img = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[i].tobytes() for i in range(h))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
