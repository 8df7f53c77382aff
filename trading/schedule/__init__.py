"""Market-hours scheduling: NYSE-session job slots run exactly once through django-q2."""
