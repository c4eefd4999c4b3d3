"""Diagrams drawn with matplotlib for the chapter notebooks (one module per chapter)."""
