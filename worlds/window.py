"""A plain pygame window that shows rgb frames, for PettingZoo's `render_mode="human"`.

pygame is imported when a window is opened, never when this module is imported. The full
viewer (HUD, controls, human seats) is `arena`'s; this only shows frames at a steady rate.
"""

from __future__ import annotations

import os

import numpy as np

BACKGROUND = (10, 11, 16)


class FrameWindow:
    """A resizable window showing each frame scaled to fit (whole pixels stay square).

    Closing the window ends the display; later `show` calls then do nothing, so an env loop
    that keeps stepping does not hang or fail."""

    def __init__(self, title: str, fps: float | None = None, min_side: int = 512):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame  # lazily: only a window needs it

        self._pygame = pygame
        self.title = title
        self.fps = fps
        self.min_side = min_side
        self.closed = False
        self._screen = None
        self._clock = pygame.time.Clock()
        pygame.display.init()

    def show(self, frame: np.ndarray) -> None:
        """Draw `frame` (uint8[H, W, 3]) and wait out the rest of this frame's time."""
        if self.closed:
            return
        pygame = self._pygame
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self.close()
                return
        h, w = frame.shape[:2]
        if self._screen is None:
            scale = max(1, -(-self.min_side // max(h, w)))  # whole multiples keep pixel art crisp
            self._screen = pygame.display.set_mode((w * scale, h * scale), pygame.RESIZABLE)
            pygame.display.set_caption(self.title)
        image = pygame.image.frombuffer(np.ascontiguousarray(frame, dtype=np.uint8).tobytes(), (w, h), "RGB")
        sw, sh = self._screen.get_size()
        fit = min(sw / w, sh / h)
        size = (max(1, int(w * fit)), max(1, int(h * fit)))
        self._screen.fill(BACKGROUND)
        self._screen.blit(pygame.transform.scale(image, size), ((sw - size[0]) // 2, (sh - size[1]) // 2))
        pygame.display.flip()
        if self.fps:
            self._clock.tick(self.fps)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._screen = None
            self._pygame.display.quit()
