"""Command-line interface: thin typer commands that parse, call the API and render with rich."""
