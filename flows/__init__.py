"""The thin shell: the Typer CLI, the Prefect flows and tasks, and rendering."""
