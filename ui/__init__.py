"""PyQt6 applications: operator live view and QA review. The only package that imports Qt."""
