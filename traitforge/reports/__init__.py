"""Rendering of results for people: terminal reports now, HTML pages later."""
