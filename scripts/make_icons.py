"""Draw the PWA's icons (192, 512, and a maskable 512) into static/icons/ with Pillow.

Run: .venv/bin/python scripts/make_icons.py — the icons are a clipboard with a tick, in the
theme colours; the maskable one keeps everything inside the 80 % safe zone.
"""
from __future__ import annotations

import os

from PIL import Image, ImageDraw

NAVY = (11, 61, 110)
WHITE = (255, 255, 255)
AMBER = (255, 193, 7)
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static", "icons")


def draw(size: int, *, maskable: bool) -> Image.Image:
    """Return one icon; `maskable` shrinks the artwork into the safe zone and fills the corners."""
    scale = 4  # draw large, then downsample, for smooth edges
    s = size * scale
    img = Image.new("RGBA", (s, s), NAVY if maskable else (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if not maskable:
        d.rounded_rectangle((0, 0, s - 1, s - 1), radius=s // 5, fill=NAVY)
    art = 0.56 if maskable else 0.70  # share of the side the clipboard takes
    w, h = s * art * 0.78, s * art
    x0, y0 = (s - w) / 2, (s - h) / 2 + s * 0.02
    d.rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=s * 0.04, fill=WHITE)
    clip_w, clip_h = w * 0.46, h * 0.12
    cx = s / 2
    d.rounded_rectangle((cx - clip_w / 2, y0 - clip_h / 2, cx + clip_w / 2, y0 + clip_h / 2),
                        radius=s * 0.02, fill=AMBER)
    line = max(2, int(s * 0.055))
    points = [(x0 + w * 0.22, y0 + h * 0.55), (x0 + w * 0.43, y0 + h * 0.74), (x0 + w * 0.80, y0 + h * 0.32)]
    d.line(points, fill=NAVY, width=line, joint="curve")
    for px, py in (points[0], points[-1]):
        d.ellipse((px - line / 2, py - line / 2, px + line / 2, py + line / 2), fill=NAVY)
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    for name, size, maskable in (("icon-192.png", 192, False), ("icon-512.png", 512, False),
                                 ("maskable-512.png", 512, True), ("apple-touch-icon.png", 180, True),
                                 ("favicon-32.png", 32, False)):
        draw(size, maskable=maskable).save(os.path.join(OUT, name), optimize=True)
        print("wrote", os.path.join("static", "icons", name))


if __name__ == "__main__":
    main()
