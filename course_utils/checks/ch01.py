"""Checks for chapter 01 exercises."""

__all__: list[str] = []
