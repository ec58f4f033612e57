"""Lessons: Markdown pages with server-rendered MathML and live widgets on the real model."""
