"""HTTP handlers: thin functions that parse, call and answer."""
