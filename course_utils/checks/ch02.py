"""Checks for chapter 02 exercises."""

__all__: list[str] = []
