"""Small previews of image evidence (Pillow), made when a page asks for one."""

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

SIZE = (240, 240)
# An image decoding to more pixels than this is not a screenshot: refused, not decoded.
Image.MAX_IMAGE_PIXELS = 40_000_000


def is_image(path: Path) -> bool:
    """Whether Pillow reads the file as an image: from its header, without decoding it."""
    try:
        with Image.open(path) as image:
            return bool(image.format)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        return False


def thumbnail(path: Path) -> bytes | None:
    """A PNG preview of the image at `path`; None when the file is not an image Pillow reads."""
    try:
        with Image.open(path) as image:
            image.thumbnail(SIZE)
            out = io.BytesIO()
            image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(
                out, format="PNG"
            )
            return out.getvalue()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        return None
