"""DeepAlpha: a terminal trading workstation for China A-shares and Hong Kong stocks."""

__version__ = "0.1.0"
