"""The two cache tiers and the cache that puts them together."""
