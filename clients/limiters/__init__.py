"""The limiting policies, each written once: what an attempt waits for before it goes."""
