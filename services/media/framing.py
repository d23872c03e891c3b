"""Where a picture sits in the frame, and where its subject is (pure arithmetic, no media).

A picture is fitted whole into the frame (the rest is its blurred fill, services/pictures.py),
except that a picture whose shape is only a little different from the frame's covers the frame,
losing at most MAX_CROP of its length on the one axis (no thin bars of fill); that crop is moved
toward the picture's subject (services/media/subject.py) rather than taken from the centre, and
never past the picture's edges.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.media.subject import NO_SUBJECT, Box, Subject

MAX_CROP = 0.08  # at most this share of a picture's width or height is cut off
SOFT_ENLARGEMENT = 1.0  # enlarged more than this, a picture is scaled with a soft filter
NOTED_ENLARGEMENT = 2.0  # enlarged more than this, the log and the record say so


@dataclass(frozen=True)
class Placement:
    """The picture scaled to `scaled` pixels, its top left corner at `offset` in the view (a
    negative offset: that much of it is cut off), and its subject."""

    view: tuple[int, int]
    picture: tuple[int, int]  # the picture's size as decoded
    scaled: tuple[int, int]
    offset: tuple[int, int]
    subject: Subject = NO_SUBJECT

    @property
    def enlargement(self) -> float:
        return self.scaled[0] / self.picture[0]

    def to_view(self, box: Box) -> Box:
        """A box in fractions of the picture as fractions of the view, clipped to it."""
        view_w, view_h = self.view

        def across(value: float) -> float:
            return min(1.0, max(0.0, (self.offset[0] + value * self.scaled[0]) / view_w))

        def down(value: float) -> float:
            return min(1.0, max(0.0, (self.offset[1] + value * self.scaled[1]) / view_h))

        return Box(across(box.left), down(box.top), across(box.right), down(box.bottom))

    @property
    def subject_box(self) -> Box:
        """The subject's box in fractions of the view."""
        return self.to_view(self.subject.box)

    @property
    def focus(self) -> tuple[float, float]:
        """Where a zoom should head, in fractions of the view: the subject's centre of mass when
        the picture has a clear subject, else the centre."""
        if not self.subject.clear:
            return 0.5, 0.5
        x, y = self.subject.focus
        point = self.to_view(Box(x, y, x, y))
        return point.left, point.top

    def saliency_in(self, view_box: Box) -> float:
        """The share of the picture's saliency inside a box given in fractions of the view."""
        view_w, view_h = self.view
        scaled_w, scaled_h = self.scaled
        in_picture = Box(
            (view_box.left * view_w - self.offset[0]) / scaled_w,
            (view_box.top * view_h - self.offset[1]) / scaled_h,
            (view_box.right * view_w - self.offset[0]) / scaled_w,
            (view_box.bottom * view_h - self.offset[1]) / scaled_h,
        )
        return self.subject.mass(in_picture)


def _crop_offset(scaled: int, view: int, focus: float) -> int:
    """Where a picture `scaled` long sits on a `view` long axis: centred when it fits; when it
    is longer, its window as near the subject's centre (`focus`, a fraction) as its edges allow."""
    if scaled <= view:
        return (view - scaled) // 2
    wanted = round(focus * scaled - view / 2)
    return -min(max(wanted, 0), scaled - view)


def place(
    picture: tuple[int, int], view: tuple[int, int], subject: Subject = NO_SUBJECT
) -> Placement:
    """The picture fitted into the view (see the module's docstring)."""
    width, height = picture
    view_w, view_h = view
    contain = min(view_w / width, view_h / height)
    cover = max(view_w / width, view_h / height)
    # Cover the frame when that cuts off little enough of the picture, else show it whole.
    scale = cover if cover <= contain / (1 - MAX_CROP) else contain
    scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
    if scaled[0] > view_w and scaled[0] - view_w <= 2:  # rounding: no crop of a pixel or two
        scaled = (view_w, scaled[1])
    if scaled[1] > view_h and scaled[1] - view_h <= 2:
        scaled = (scaled[0], view_h)
    focus = subject.focus if subject.clear else (0.5, 0.5)
    offset = (
        _crop_offset(scaled[0], view_w, focus[0]),
        _crop_offset(scaled[1], view_h, focus[1]),
    )
    return Placement(view=view, picture=picture, scaled=scaled, offset=offset, subject=subject)


def enlargement_note(part_number: int, width: int, height: int, enlargement: float) -> str | None:
    """A line for the log and the record when a part's picture was enlarged more than
    NOTED_ENLARGEMENT times to fit the frame (it will look soft), else None."""
    if enlargement <= NOTED_ENLARGEMENT:
        return None
    return (
        f"part {part_number}: the picture is {width}x{height} and was enlarged "
        f"{enlargement:.1f}x to fit the frame, so it looks soft; a picture at least "
        f"{round(width * enlargement)}x{round(height * enlargement)} would be sharp"
    )
