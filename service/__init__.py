"""roleready-cache: a two-tier cache service that keeps answering while Redis fails."""

__version__ = "0.1.0"
