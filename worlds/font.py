"""A 3x5 pixel font for the renderer: agents' index digits, level badges, speech bubbles.

Each glyph is 15 bits, rows top to bottom. Letters are capitals (text is upper-cased); a
character the font lacks is drawn as "?".
"""

from __future__ import annotations

import numpy as np

GLYPHS = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001010010010",
    "8": "111101111101111",
    "9": "111101111001111",
    "A": "010101111101101",
    "B": "110101110101110",
    "C": "011100100100011",
    "D": "110101101101110",
    "E": "111100110100111",
    "F": "111100110100100",
    "G": "011100101101011",
    "H": "101101111101101",
    "I": "111010010010111",
    "J": "001001001101010",
    "K": "101101110101101",
    "L": "100100100100111",
    "M": "101111111101101",
    "N": "110101101101101",
    "O": "010101101101010",
    "P": "110101110100100",
    "Q": "010101101110011",
    "R": "110101110101101",
    "S": "011100010001110",
    "T": "111010010010010",
    "U": "101101101101111",
    "V": "101101101101010",
    "W": "101101111111101",
    "X": "101101010101101",
    "Y": "101101010010010",
    "Z": "111001010100111",
    "?": "111001010000010",
    "!": "010010010000010",
    "-": "000000111000000",
    "+": "000010111010000",
    ".": "000000000000010",
    " ": "000000000000000",
}


def glyph(char: str) -> np.ndarray:
    """One character as bool[5, 3]."""
    bits = GLYPHS.get(char.upper(), GLYPHS["?"])
    return np.array([bit == "1" for bit in bits]).reshape(5, 3)


def text(chars: str) -> np.ndarray:
    """A line of characters as bool[5, 4 * len - 1]: glyphs with one blank column between."""
    out = np.zeros((5, max(0, 4 * len(chars) - 1)), dtype=bool)
    for k, char in enumerate(chars):
        out[:, 4 * k : 4 * k + 3] = glyph(char)
    return out
