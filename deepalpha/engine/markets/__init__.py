"""Instruments and the dated market rules of the A-share and Hong Kong markets."""
