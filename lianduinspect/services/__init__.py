"""Use cases: (session, actor, plain values, *, now) in; a model or a domain error out. They flush, never commit."""
