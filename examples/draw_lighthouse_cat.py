"""Draw the pictures of the example story "The Lighthouse Cat" with ImageMagick's `convert`.

    .venv/bin/python examples/draw_lighthouse_cat.py   # rewrites examples/lighthouse-cat/*/image.*

Every picture is built from drawing primitives (gradients, circles, polygons, curves, a blur here
and there), so the example owes nothing to anyone's photographs. Stars, clouds, rain and waves come
from seeded random generators: running the script again gives the same pictures.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

STORY = Path(__file__).resolve().parent / "lighthouse-cat"
INK = "#0b0b12"  # the cat, and every silhouette

Point = tuple[float, float]


def _xy(point: Point) -> str:
    return f"{point[0]:.1f},{point[1]:.1f}"


class Canvas:
    """The arguments of one `convert` command, built up shape by shape, back to front."""

    def __init__(self, width: int, height: int, background: str):
        self.width, self.height = width, height
        self.args = ["-size", f"{width}x{height}", background]

    def _draw(self, primitive: str, fill: str = "none", stroke: str = "none", width: float = 1):
        # Each -draw carries its own paint, so no setting leaks from one shape to the next.
        paint = f"fill {fill} stroke {stroke} stroke-width {width:.1f} stroke-linecap round"
        self.args += ["-draw", f"{paint} {primitive}"]

    def circle(self, centre: Point, radius: float, fill: str) -> None:
        self._draw(f"circle {_xy(centre)} {_xy((centre[0] + radius, centre[1]))}", fill)

    def ellipse(self, centre: Point, radii: Point, fill: str, arc: Point = (0, 360)) -> None:
        self._draw(f"ellipse {_xy(centre)} {_xy(radii)} {arc[0]:.0f},{arc[1]:.0f}", fill)

    def rectangle(self, corner: Point, opposite: Point, fill: str) -> None:
        self._draw(f"rectangle {_xy(corner)} {_xy(opposite)}", fill)

    def polygon(self, points: list[Point], fill: str) -> None:
        self._draw("polygon " + " ".join(_xy(point) for point in points), fill)

    def line(self, start: Point, end: Point, colour: str, width: float) -> None:
        self._draw(f"line {_xy(start)} {_xy(end)}", stroke=colour, width=width)

    def curve(self, start: Point, bend: Point, end: Point, colour: str, width: float) -> None:
        """A quadratic Bézier stroke from start to end, pulled towards bend."""
        self._draw(f"path 'M {_xy(start)} Q {_xy(bend)} {_xy(end)}'", stroke=colour, width=width)

    def gradient(self, top: int, top_colour: str, bottom_colour: str) -> None:
        """A vertical gradient from row `top` to the bottom edge (sea below a horizon)."""
        self.args += ["(", "-size", f"{self.width}x{self.height - top}"]
        self.args += [f"gradient:{top_colour}-{bottom_colour}", ")"]
        self.args += ["-geometry", f"+0+{top}", "-composite"]

    def glow(self, centre: Point, radius: int, colour: str) -> None:
        """A soft round light, added with the screen blend so it only brightens."""
        size = 2 * radius
        self.args += ["(", "-size", f"{size}x{size}", f"radial-gradient:{colour}-black", ")"]
        self.args += ["-geometry", f"+{centre[0] - radius:.0f}+{centre[1] - radius:.0f}"]
        self.args += ["-compose", "screen", "-composite", "-compose", "over"]

    def blurred(self, shapes: Canvas, sigma: float) -> None:
        """Lay another (transparent) canvas over this one, blurred: clouds, haze."""
        self.args += ["(", *shapes.args, "-blur", f"0x{sigma}", ")", "-composite"]

    def save(self, target: Path, quality: int | None = None) -> None:
        binary = shutil.which("convert")
        if binary is None:
            sys.exit("ImageMagick's convert is not installed (run scripts/setup.sh)")
        extra = ["-quality", str(quality)] if quality else []
        target.parent.mkdir(parents=True, exist_ok=True)
        command = [binary, *self.args, "-strip", *extra, str(target)]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            sys.exit(f"drawing {target.name} failed: {completed.stderr.strip()}")


# --- scenery ---------------------------------------------------------------------------------


def stars(canvas: Canvas, bottom: float, count: int, seed: int) -> None:
    """Stars of a few sizes and brightnesses, thinning out towards the horizon at `bottom`."""
    rng = random.Random(seed)
    for _ in range(count):
        centre = (rng.uniform(0, canvas.width), bottom * rng.random() ** 1.3)
        alpha = rng.choice(["ff", "cc", "99", "66"])
        canvas.circle(centre, rng.choice([0.8, 1.0, 1.2, 1.6, 2.2]), f"#fffbe8{alpha}")


def waves(canvas: Canvas, top: float, colour: str, seed: int, gap: float = 38) -> None:
    """Rows of small wave crests below the horizon, larger and further apart towards the viewer."""
    rng = random.Random(seed)
    y = top + 8
    while y < canvas.height:
        depth = (y - top) / (canvas.height - top)
        length = 14 + 46 * depth
        x = rng.uniform(-gap, gap)
        while x < canvas.width:
            bend = (x + length / 2, y - 4 - 6 * depth)
            canvas.curve((x, y), bend, (x + length, y), colour, 1 + 2.5 * depth)
            x += length + rng.uniform(gap * 0.6, gap * 1.8)
        y += 10 + 34 * depth


def reflection(canvas: Canvas, centre_x: float, top: float, rows: int, colour: str) -> None:
    """Broken streaks of moon- or sunlight on the water."""
    for row in range(rows):
        half = 22 + (row % 3) * 6 + row * 2
        y = top + 12 + row * 26
        canvas.line((centre_x - half, y), (centre_x + half, y), colour, 3)


def rock(canvas: Canvas, x: float, base: float, width: float, colour: str = "#161a20") -> None:
    shape = [(-0.5, 0.2), (-0.42, -0.02), (-0.2, -0.09), (0.15, -0.07), (0.4, -0.03), (0.55, 0.2)]
    canvas.polygon([(x + dx * width, base + dy * width) for dx, dy in shape], colour)


def beam(canvas: Canvas, origin: Point, far: Point, spread: float, colour: str) -> None:
    """A wedge of light from the lantern, `spread` pixels either side of `far`."""
    (ox, oy), (fx, fy) = origin, far
    canvas.polygon([(ox, oy - 3), (fx, fy - spread), (fx, fy + spread), (ox, oy + 3)], colour)


def boat(canvas: Canvas, x: float, water: float, size: float, lantern: bool) -> None:
    s = size
    hull = [(-0.5, -0.16), (0.5, -0.16), (0.38, 0), (-0.4, 0)]
    canvas.polygon([(x + dx * s, water + dy * s) for dx, dy in hull], INK)
    canvas.polygon([(x - s * 0.02, water - s * 0.2), (x - s * 0.02, water - s * 0.95),
                    (x - s * 0.42, water - s * 0.22)], INK)  # fmt: skip
    canvas.polygon([(x + s * 0.03, water - s * 0.2), (x + s * 0.03, water - s * 0.8),
                    (x + s * 0.32, water - s * 0.22)], INK)  # fmt: skip
    if lantern:
        canvas.circle((x + s * 0.4, water - s * 0.22), s * 0.04, "#ffe9a0")


def gull(canvas: Canvas, x: float, y: float, span: float) -> None:
    canvas.curve((x - span, y), (x - span / 2, y - span * 0.7), (x, y), "#3b2a3a", 2.5)
    canvas.curve((x, y), (x + span / 2, y - span * 0.7), (x + span, y), "#3b2a3a", 2.5)


class Lighthouse:
    """A tapering striped tower, its base centre at (x, base), `height` pixels to the gallery."""

    def __init__(self, x: float, base: float, height: float):
        self.x, self.base, self.height = x, base, height
        self.bottom_half, self.top_half = height * 0.13, height * 0.085
        self.tower_top = base - height * 0.78
        self.gallery = self.tower_top - height * 0.02  # the floor a cat can sit on
        self.lamp_top = self.gallery - height * 0.1

    @property
    def lamp(self) -> Point:
        return self.x, (self.gallery + self.lamp_top) / 2

    def half_width(self, y: float) -> float:
        share = (self.base - y) / (self.base - self.tower_top)
        return self.bottom_half + (self.top_half - self.bottom_half) * share

    def band(self, low: float, high: float) -> list[Point]:
        x = self.x
        return [(x - self.half_width(low), low), (x + self.half_width(low), low),
                (x + self.half_width(high), high), (x - self.half_width(high), high)]  # fmt: skip

    def draw(self, canvas: Canvas, lit: bool) -> None:
        x, h, top = self.x, self.height, self.top_half
        canvas.polygon(self.band(self.base, self.tower_top), "#ece6da")
        for stripe in range(3):
            low = self.base - h * (0.10 + 0.22 * stripe)
            canvas.polygon(self.band(low, low - h * 0.10), "#b8322c")
        # A shaded right flank makes the tower look round.
        canvas.polygon([(x + self.bottom_half * 0.35, self.base), (x + self.bottom_half, self.base),
                        (x + top, self.tower_top), (x + top * 0.35, self.tower_top)],
                       "#00000033")  # fmt: skip
        canvas.rectangle((x - h * 0.03, self.base - h * 0.09), (x + h * 0.03, self.base), "#3a2a22")
        window_y = self.base - h * 0.48
        window = "#ffd56a" if lit else "#2a2f3a"
        canvas.rectangle(
            (x - h * 0.015, window_y - h * 0.02), (x + h * 0.015, window_y + h * 0.02), window
        )
        rail = top * 1.55
        canvas.rectangle((x - rail, self.gallery), (x + rail, self.tower_top), "#22252c")
        lamp = "#ffe07a" if lit else "#30343f"
        canvas.rectangle((x - top * 0.85, self.lamp_top), (x + top * 0.85, self.gallery), lamp)
        bar = max(1.5, h * 0.006)
        canvas.line((x, self.lamp_top), (x, self.gallery), "#22252c", bar)
        rail_y = self.gallery - h * 0.035
        canvas.line((x - rail, rail_y), (x + rail, rail_y), "#22252c", bar)
        apex = self.lamp_top - h * 0.09
        roof = [(x - top * 1.2, self.lamp_top), (x + top * 1.2, self.lamp_top), (x, apex)]
        canvas.polygon(roof, "#8e2521")
        canvas.circle((x, apex - h * 0.01), h * 0.012, "#8e2521")


# --- the cat -----------------------------------------------------------------------------------


def ears(canvas: Canvas, head: Point, s: float, tilt: float = 0.0) -> None:
    hx, hy = head
    for side in (-1, 1):
        canvas.polygon([(hx + side * s * 0.16, hy - s * 0.05),
                        (hx + side * s * 0.15 + tilt * s, hy - s * 0.3),
                        (hx + side * s * 0.03, hy - s * 0.14)], INK)  # fmt: skip


def sitting_cat(canvas: Canvas, x: float, ground: float, size: float, eyes: str = "") -> None:
    """A cat sitting on `ground`, `size` pixels tall, its tail curled round to the right."""
    s = size
    canvas.ellipse((x, ground - s * 0.3), (s * 0.24, s * 0.3), INK)
    head = (x, ground - s * 0.7)
    canvas.circle(head, s * 0.17, INK)
    ears(canvas, head, s)
    tail_end = (x + s * 0.51, ground - s * 0.32)
    canvas.curve((x + s * 0.15, ground - s * 0.04), (x + s * 0.5, ground), tail_end, INK, s * 0.08)
    if eyes:
        for side in (-1, 1):
            canvas.ellipse((x + side * s * 0.07, head[1] - s * 0.01), (s * 0.03, s * 0.022), eyes)


def climbing_cat(canvas: Canvas, x: float, y: float, size: float) -> None:
    """A cat bounding up a stair to the right; (x, y) is under its hind paws."""
    s = size
    canvas.ellipse((x + s * 0.45, y - s * 0.42), (s * 0.42, s * 0.17), INK)
    legs = [((0.12, -0.35), (0.02, 0.0)), ((0.25, -0.38), (0.3, -0.02)),
            ((0.7, -0.55), (0.78, -0.3)), ((0.8, -0.55), (0.95, -0.4))]  # fmt: skip
    for (ax, ay), (bx, by) in legs:
        canvas.line((x + s * ax, y + s * ay), (x + s * bx, y + s * by), INK, s * 0.09)
    tail = (x + s * 0.08, y - s * 0.42), (x - s * 0.27, y - s * 0.47), (x - s * 0.22, y - s * 0.87)
    canvas.curve(*tail, INK, s * 0.07)
    head = (x + s * 0.92, y - s * 0.72)
    canvas.circle(head, s * 0.16, INK)
    ears(canvas, head, s * 0.95, tilt=0.03)
    canvas.ellipse((head[0] + s * 0.08, head[1] - s * 0.02), (s * 0.035, s * 0.025), "#ffd24a")


def sleeping_cat(canvas: Canvas, x: float, ground: float, size: float) -> None:
    """A cat curled up asleep, `size` pixels long, lying on `ground`."""
    s = size
    canvas.ellipse((x, ground - s * 0.2), (s * 0.5, s * 0.2), INK, arc=(180, 360))
    canvas.rectangle((x - s * 0.5, ground - s * 0.2), (x + s * 0.5, ground), INK)
    head = (x - s * 0.38, ground - s * 0.2)
    canvas.circle(head, s * 0.16, INK)
    ears(canvas, head, s * 0.9)
    tail = (x + s * 0.45, ground - s * 0.05), (x + s * 0.55, ground + s * 0.07)
    canvas.curve(*tail, (x + s * 0.15, ground + s * 0.03), INK, s * 0.07)


# --- the five pictures -------------------------------------------------------------------------


def night_at_the_lighthouse(target: Path) -> None:
    """Part 1 (portrait PNG): a calm night, the lamp lit, the cat on the gallery."""
    canvas, horizon = Canvas(640, 960, "gradient:#070b24-#2c3a74"), 640
    tower = Lighthouse(420, 800, 560)
    stars(canvas, horizon - 60, 140, seed=1)
    canvas.glow((130, 150), 110, "#3a3a48")
    canvas.circle((130, 150), 42, "#f3eed2")
    canvas.circle((115, 140), 9, "#dcd6b8")
    canvas.circle((142, 166), 6, "#dcd6b8")
    canvas.gradient(horizon, "#1d3f66", "#050d1c")
    waves(canvas, horizon, "#3f74a0", seed=2)
    reflection(canvas, 125, horizon, 10, "#fff3c0aa")
    beam(canvas, tower.lamp, (0, tower.lamp[1] - 40), 70, "#fff4b838")
    beam(canvas, tower.lamp, (640, tower.lamp[1] + 20), 40, "#fff4b82a")
    canvas.glow(tower.lamp, 80, "#a08a40")
    rock(canvas, tower.x, tower.base, 420)
    tower.draw(canvas, lit=True)
    sitting_cat(canvas, tower.x - tower.top_half * 1.2, tower.gallery, 34)
    canvas.save(target)


def storm(target: Path) -> None:
    """Part 2 (landscape JPEG): the storm, the lamp out, a small boat far off."""
    canvas, horizon = Canvas(1200, 800, "gradient:#14161c-#4a5260"), 520
    tower = Lighthouse(930, 640, 430)
    clouds, rng = Canvas(1200, 800, "xc:none"), random.Random(3)
    for _ in range(26):
        centre = (rng.uniform(-50, 1250), rng.uniform(-40, 260))
        clouds.ellipse(centre, (rng.uniform(90, 220), rng.uniform(35, 70)), "#2a2e37")
    canvas.blurred(clouds, 12)
    canvas.gradient(horizon, "#2b3d4c", "#0b1118")
    waves(canvas, horizon, "#8aa2b4", seed=4, gap=26)
    bolt = [(380, 40), (350, 150), (395, 160), (340, 300), (372, 305), (330, 420)]
    for start, end in zip(bolt, bolt[1:], strict=False):
        canvas.line(start, end, "#f4f1ff", 4)
    canvas.glow((360, 220), 160, "#3a3c55")
    boat(canvas, 250, horizon + 40, 70, lantern=True)
    rock(canvas, tower.x, tower.base, 360, "#101317")
    tower.draw(canvas, lit=False)
    rng = random.Random(5)
    for _ in range(220):
        x, y = rng.uniform(0, 1400), rng.uniform(-40, 800)
        canvas.line((x, y), (x - 22, y + 60), "#c9d3e066", 1.5)
    canvas.save(target, quality=86)


def up_the_stairs(target: Path) -> None:
    """Part 3 (portrait JPEG): inside the tower, the cat racing up the stairs."""
    canvas = Canvas(640, 960, "gradient:#2a1c18-#0d0908")
    canvas.glow((320, 300), 360, "#3a2a1c")
    for row in range(0, 960, 48):  # courses of stone
        canvas.line((0, row), (640, row), "#00000055", 2)
    wx, wy = 170, 230  # a round window, the storm outside
    canvas.circle((wx, wy), 85, "#5a4030")
    canvas.circle((wx, wy), 70, "#2b3646")
    for i in range(14):
        x, y = wx - 50 + i * 8, wy - 55 + (i * 37) % 60
        canvas.line((x, y), (x - 10, y + 35), "#9fb2c866", 1.5)
    canvas.line((wx - 70, wy), (wx + 70, wy), "#5a4030", 6)
    canvas.line((wx, wy - 70), (wx, wy + 70), "#5a4030", 6)
    rise, tread, width = 62, 40, 190
    for step in range(12):
        x, y = -40 + step * tread, 920 - step * rise
        canvas.rectangle((x, y), (x + width, y + rise), "#4a362c")
        canvas.rectangle((x, y), (x + width, y + 8), "#7a5e48")  # the lit nosing
    canvas.line((0, 840), (500, 840 - 11 * rise), "#1c1410", 7)  # handrail
    climbing_cat(canvas, 215, 920 - 6 * rise, 120)
    canvas.save(target, quality=88)


def the_lamp_again(target: Path) -> None:
    """Part 4 (portrait JPEG, a closer view): the lamp lit again, its beam finding the boat."""
    canvas, horizon = Canvas(720, 1080, "gradient:#0a0d26-#24306a"), 700
    tower = Lighthouse(250, 1150, 900)
    stars(canvas, horizon, 90, seed=6)
    canvas.gradient(horizon, "#17355a", "#040a16")
    waves(canvas, horizon, "#3c6c96", seed=7)
    beam(canvas, tower.lamp, (760, horizon + 70), 120, "#fff2b040")
    beam(canvas, tower.lamp, (760, horizon + 70), 55, "#fff5c050")
    boat(canvas, 600, horizon + 70, 60, lantern=True)
    canvas.glow(tower.lamp, 260, "#b09a48")
    tower.draw(canvas, lit=True)
    sitting_cat(canvas, tower.x - 20, tower.gallery, 72, eyes="#ffd24a")
    canvas.save(target, quality=86)


def dawn(target: Path) -> None:
    """Part 5 (square PNG): morning, the boat home, the cat asleep up on the gallery."""
    canvas, horizon = Canvas(900, 900, "gradient:#6d7fb8-#f3b28a"), 560
    tower = Lighthouse(600, 760, 620)
    canvas.glow((230, horizon), 300, "#8a5a30")
    canvas.circle((230, horizon), 70, "#ffe2a8")
    canvas.gradient(horizon, "#c98a86", "#3e4a72")
    waves(canvas, horizon, "#f6c8a6", seed=8)
    reflection(canvas, 231, horizon, 7, "#ffe2a8aa")
    boat(canvas, 90, horizon + 30, 55, lantern=False)
    gull(canvas, 300, 160, 26)
    gull(canvas, 370, 210, 18)
    gull(canvas, 460, 140, 14)
    rock(canvas, tower.x, tower.base, 480, "#2b2530")
    tower.draw(canvas, lit=False)
    sleeping_cat(canvas, tower.x - 20, tower.gallery - tower.height * 0.035, 70)
    canvas.save(target)


PICTURES = {
    "1/image.png": night_at_the_lighthouse,
    "2/image.jpg": storm,
    "3/image.jpeg": up_the_stairs,
    "4/image.jpg": the_lamp_again,
    "5/image.png": dawn,
}


def main() -> None:
    for name, painter in PICTURES.items():
        target = STORY / name
        painter(target)
        print(f"{target.relative_to(STORY.parent)}  {target.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
