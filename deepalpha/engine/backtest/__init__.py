"""Backtests: the same broker and portfolio, driven by replayed bars and a simulated clock."""
