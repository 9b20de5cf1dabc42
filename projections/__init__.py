"""Read models built from intercept events, wherever the events come from."""
