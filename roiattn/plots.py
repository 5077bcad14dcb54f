"""Figures the chapters draw. Each function returns its matplotlib Figure."""

from __future__ import annotations
