"""Draw the integration's brand images (run once; the PNGs are committed).

    .venv/bin/python scripts/make_brand.py

Home Assistant 2026.3+ and HACS show ``brand/icon.png`` and ``brand/logo.png``
(with ``@2x``) of a custom integration. The mark: a map pin (the scout) with a
charging bolt (the worker) on a red tile. Pillow comes with Home Assistant.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND = (
    Path(__file__).resolve().parent.parent
    / "custom_components"
    / "tesla_scout_worker"
    / "brand"
)
RED, DARK_RED, WHITE = (204, 24, 30), (140, 10, 18), (255, 255, 255)
TEXT = (33, 33, 33)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SCALE = 4  # drawn large, then scaled down for smooth edges


def mark(size: int) -> Image.Image:
    """The square mark, ``size`` pixels wide, on a transparent background."""
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    pad = big * 0.04
    draw.rounded_rectangle(
        (pad, pad, big - pad, big - pad), radius=big * 0.22, fill=RED
    )
    draw.rounded_rectangle(
        (pad, big * 0.55, big - pad, big - pad), radius=big * 0.22, fill=DARK_RED
    )
    draw.rectangle((pad, big * 0.55, big - pad, big * 0.75), fill=DARK_RED)
    # The pin: a circle and a point below it.
    cx, cy, r = big * 0.5, big * 0.42, big * 0.25
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=WHITE)
    draw.polygon(
        [
            (cx - r * 0.82, cy + r * 0.58),
            (cx + r * 0.82, cy + r * 0.58),
            (cx, big * 0.88),
        ],
        fill=WHITE,
    )
    # The bolt inside the pin.
    u = r / 10
    bolt = [
        (cx + 1.5 * u, cy - 7.5 * u),
        (cx - 4.5 * u, cy + 1.0 * u),
        (cx - 0.2 * u, cy + 1.0 * u),
        (cx - 1.8 * u, cy + 7.5 * u),
        (cx + 4.5 * u, cy - 1.5 * u),
        (cx + 0.2 * u, cy - 1.5 * u),
    ]
    draw.polygon(bolt, fill=RED)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def logo(height: int) -> Image.Image:
    """The mark and the name side by side, ``height`` pixels high."""
    big = height * SCALE
    font = ImageFont.truetype(FONT, int(big * 0.3))
    small = ImageFont.truetype(FONT, int(big * 0.2))
    title, subtitle = "Tesla Scout", "& Worker"
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    text_width = max(
        probe.textlength(title, font=font), probe.textlength(subtitle, font=small)
    )
    width = int(big + big * 0.12 + text_width + big * 0.08)
    image = Image.new("RGBA", (width, big), (0, 0, 0, 0))
    image.alpha_composite(mark(big))
    draw = ImageDraw.Draw(image)
    x = big * 1.12
    draw.text((x, big * 0.16), title, font=font, fill=TEXT)
    draw.text((x, big * 0.56), subtitle, font=small, fill=RED)
    return image.resize((width // SCALE, height), Image.Resampling.LANCZOS)


def main() -> None:
    """Write icon.png, icon@2x.png, logo.png and logo@2x.png."""
    BRAND.mkdir(exist_ok=True)
    mark(256).save(BRAND / "icon.png", optimize=True)
    mark(512).save(BRAND / "icon@2x.png", optimize=True)
    logo(160).save(BRAND / "logo.png", optimize=True)
    logo(320).save(BRAND / "logo@2x.png", optimize=True)
    for path in sorted(BRAND.iterdir()):
        with Image.open(path) as image:
            print(f"{path.name}: {image.width}x{image.height}")


if __name__ == "__main__":
    main()
