"""systems layer."""
