"""Checks for chapter 00 exercises."""

__all__: list[str] = []
