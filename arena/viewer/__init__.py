"""The viewer: a pygame window (window.py) with its heads-up display (hud.py), headless `watch`
and `play` (watch.py) and the README screenshots (screenshots.py)."""
